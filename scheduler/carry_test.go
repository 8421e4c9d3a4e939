package scheduler_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/benchcore"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// remoteSender spawns on a a tasklet that sends 42 on ch (b's), having
// first selected if selected is set (so it waits in a select buffer of
// its own, not in a carried wait), then exits.
func remoteSender(a *scheduler.Scheduler, ch tasklet.ChanID, selected bool) tasklet.ID {
	var ops []func(t *tasklet.T) tasklet.Op
	if selected {
		ops = append(ops, func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.DefaultCase()) })
	}
	ops = append(ops,
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 42) },
		func(t *tasklet.T) tasklet.Op { return t.Exit() })
	return a.Spawn(run(ops...))
}

// A send waiting on another node's channel keeps its value where WaitOf, a
// checkpoint (World and View alike) and a restore find it, whether the
// tasklet waits carried (it never selected) or in its own select buffer.
func TestRemoteSendWaitKeepsItsValue(t *testing.T) {
	for _, selected := range []bool{false, true} {
		t.Run(fmt.Sprintf("selected=%v", selected), func(t *testing.T) {
			nodes := map[uint16]*scheduler.Scheduler{}
			a := scheduler.New(scheduler.WithNode(1), scheduler.WithRemote(&router{self: 1, nodes: nodes}))
			b := scheduler.New(scheduler.WithNode(2), scheduler.WithRemote(&router{self: 2, nodes: nodes}))
			nodes[1], nodes[2] = a, b
			ch := b.NewChannel(0)
			id := remoteSender(a, ch, selected)
			tickUntil(t, func() bool { return b.Balance(ch) == 1 }, a, b)

			want, ok := a.WaitOf(id)
			require.True(t, ok)
			assert.False(t, want.Plain)
			assert.Equal(t, []tasklet.Case{tasklet.SendCase(ch, 42)}, want.Cases)

			saved := a.World()
			require.Len(t, saved.Tasklets, 1)
			ts := saved.Tasklets[0]
			assert.Equal(t, tasklet.Blocked, ts.State)
			assert.Equal(t, []tasklet.Case{tasklet.SendCase(ch, 42)}, ts.Cases, "the value travels with the case")
			assert.Nil(t, ts.Value, "and is not the delivered value")
			viewedTasklets, _ := viewed(t, a.View())
			assert.Equal(t, saved.Tasklets, viewedTasklets, "a checkpoint reads what World copies")

			a2 := restoreNode1(t, saved, nodes, id, want)
			rcv := &recvLog{Ch: ch, N: 1}
			b.Spawn(rcv)
			tickUntil(t, func() bool { return a2.Len() == 0 && b.Len() == 0 }, a2, b)
			assert.Equal(t, []any{42}, rcv.Got)
			assert.NoError(t, rcv.Err)
			assert.Equal(t, 0, b.Balance(ch), "the value went once")
		})
	}
}

// Killing a tasklet whose send waits on another node's channel takes the
// send back from the home: no receiver there gets its value.
func TestKilledRemoteSendIsWithdrawn(t *testing.T) {
	for _, selected := range []bool{false, true} {
		t.Run(fmt.Sprintf("selected=%v", selected), func(t *testing.T) {
			a, b := twoNodes()
			ch := b.NewChannel(0)
			id := remoteSender(a, ch, selected)
			tickUntil(t, func() bool { return b.Balance(ch) == 1 }, a, b)
			require.NoError(t, a.Kill(id, true))
			tickUntil(t, func() bool { return a.Len() == 0 && b.Balance(ch) == 0 }, a, b)

			rcv := &recvLog{Ch: ch, N: 1}
			b.Spawn(rcv)
			tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
			assert.Empty(t, rcv.Got, "the killed send's value never arrives")
		})
	}
}

// Tasklets that wait carried share their case but not their values: each
// receiver gets each sender's own value, in the order they blocked.
func TestCarriedSendsKeepTheirOwnValues(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	for i := range 5 {
		a.Spawn(&sendList{Ch: ch, Vals: []int{i, 10 + i}})
	}
	tickUntil(t, func() bool { return b.Balance(ch) == 5 }, a, b)
	rcv := &recvLog{Ch: ch, N: 10}
	b.Spawn(rcv)
	tickUntil(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, a, b)
	assert.ElementsMatch(t, []any{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}, rcv.Got)
	assert.Equal(t, []any{0, 1, 2, 3, 4}, rcv.Got[:5], "the first five blocked first")
}

// farRemote is a Remote whose answers never come: its waits stay.
type farRemote struct{ ops int }

func (r *farRemote) Op(tasklet.ID, uint32, []tasklet.Case)      { r.ops++ }
func (r *farRemote) Cancel(tasklet.ID, uint32, []tasklet.Case)  {}
func (r *farRemote) Done(scheduler.RemoteWait, int, any, error) {}
func (r *farRemote) CloseRemote(tasklet.ChanID) error           { return nil }

// remoteIdler sends its HP to another node's channel, once, or receives
// from it.
type remoteIdler struct {
	Ch   tasklet.ChanID
	HP   int32
	Recv bool
}

func (i *remoteIdler) Step(t *tasklet.T) tasklet.Op {
	if i.Recv {
		return t.Recv(i.Ch)
	}
	return t.Send(i.Ch, int(i.HP))
}

// BenchmarkIdleRemoteWaits: 100,000 tasklets, each blocked in a send to
// (or a receive from) a channel of another node: a cluster's workers
// reporting to a peer's channel that has no room, or waiting for its
// orders; -own: each on a channel of its own (an actor's inbox on a
// peer); op = build that world. The figure is B/tasklet: live heap of the
// waiting node per tasklet after runtime.GC, behavior included, as
// BenchmarkIdleTasklets reports for waits on local channels.
func BenchmarkIdleRemoteWaits(b *testing.B) {
	for _, bc := range []struct {
		name      string
		recv, own bool // receive; each tasklet on a channel of its own
	}{{"send", false, false}, {"recv", true, false}, {"send-own", false, true}, {"recv-own", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 100_000
			benchcore.LiveHeap(b, n, "B/tasklet", func() func() {
				r := &farRemote{}
				s := scheduler.New(scheduler.WithNode(1), scheduler.WithRemote(r))
				ch := tasklet.ChanID(2<<tasklet.NodeBits | 1)
				for i := range n {
					if bc.own {
						ch = tasklet.ChanID(2<<tasklet.NodeBits | uint64(i+1))
					}
					s.Spawn(&remoteIdler{Ch: ch, HP: int32(i % 100), Recv: bc.recv})
				}
				if err := s.Tick(); err != nil {
					b.Fatal(err)
				}
				if r.ops != n || s.Len() != n {
					b.Fatalf("%d waits sent of %d tasklets, want %d", r.ops, s.Len(), n)
				}
				return func() { runtime.KeepAlive(s) }
			})
		})
	}
}
