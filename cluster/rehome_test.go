package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// netRouter joins schedulers in one process the way fresh ipc nodes do
// after a restore: a wait is keyed by the tasklet's birth node, its
// completion goes to the scheduler that hosts that node, and a channel is
// reached through the scheduler hosting its home.
type netRouter struct {
	self  uint16
	nodes map[uint16]*scheduler.Scheduler // by worker node
	route map[uint16]uint16               // logical node → worker node
}

func (r *netRouter) homes(t tasklet.ID, cases []tasklet.Case) map[uint16][]scheduler.RemoteCase {
	wt, _ := r.nodes[r.self].WaitOf(t)
	plain := wt.Plain
	out := map[uint16][]scheduler.RemoteCase{}
	for i, c := range cases {
		if c.Dir != tasklet.DirRecv && c.Dir != tasklet.DirSend {
			continue
		}
		h := r.route[c.Chan.Node()]
		if h == r.self {
			continue // merged here: the scheduler handles it
		}
		idx := i
		if plain {
			idx = -1
		}
		out[h] = append(out[h], scheduler.RemoteCase{Index: idx, Case: c})
	}
	return out
}

func (r *netRouter) Op(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	for h, rcs := range r.homes(t, cases) {
		w := scheduler.RemoteWait{Node: t.Node(), Tasklet: t, Seq: wait}
		r.nodes[h].Do(func(s *scheduler.Scheduler) { s.RemoteOp(w, rcs) })
	}
}

func (r *netRouter) Cancel(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	for h := range r.homes(t, cases) {
		w := scheduler.RemoteWait{Node: t.Node(), Tasklet: t, Seq: wait}
		r.nodes[h].Do(func(s *scheduler.Scheduler) { s.CancelRemote(w) })
	}
}

func (r *netRouter) Done(w scheduler.RemoteWait, idx int, v any, err error) {
	r.nodes[r.route[w.Node]].Do(func(s *scheduler.Scheduler) { s.Complete(w.Tasklet, w.Seq, idx, v, err) })
}

func (r *netRouter) CloseRemote(ch channel.ID) error {
	r.nodes[r.route[ch.Node()]].Do(func(s *scheduler.Scheduler) { _ = s.Close(ch) })
	return nil
}

// link gives every scheduler a router over the same tables.
func link(nodes map[uint16]*scheduler.Scheduler, route map[uint16]uint16) {
	for n, s := range nodes {
		s.SetRemote(&netRouter{self: n, nodes: nodes, route: route})
	}
}

func tickAll(t *testing.T, nodes map[uint16]*scheduler.Scheduler, done func() bool) {
	t.Helper()
	keys := mapsKeys(nodes)
	slices.Sort(keys)
	for i := 0; i < 2000 && !done(); i++ {
		for _, k := range keys {
			require.NoError(t, nodes[k].Tick())
		}
	}
	require.True(t, done(), "the nodes did not reach the expected state")
}

func mapsKeys[V any](m map[uint16]V) []uint16 {
	out := make([]uint16, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// taker receives N values from In and parks.
type taker struct {
	In   channel.ID
	N    int
	Got  []int
	Wait bool
}

func (k *taker) Step(t *tasklet.T) tasklet.Op {
	if k.Wait {
		if err := t.Err(); err != nil {
			return t.Fail(err)
		}
		k.Got = append(k.Got, t.Value().(int))
		k.Wait = false
	}
	if len(k.Got) == k.N {
		return t.Pause()
	}
	k.Wait = true
	return t.Recv(k.In)
}

// giver sends Vals on Out.
type giver struct {
	Out  channel.ID
	Vals []int
}

func (g *giver) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if len(g.Vals) == 0 {
		return t.Exit()
	}
	v := g.Vals[0]
	g.Vals = g.Vals[1:]
	return t.Send(g.Out, v)
}

func testRegistry(t *testing.T) *pickle.Registry {
	t.Helper()
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("test.taker", 1, &taker{}))
	require.NoError(t, r.Register("test.giver", 1, &giver{}))
	return r
}

// migratedWaiter builds three nodes where a taker born on node 1 was moved
// to node 2 and waits there on a channel of node 3, and snapshots them.
func migratedWaiter(t *testing.T, reg *pickle.Registry) (*clusterSnapshot, tasklet.ID, channel.ID) {
	t.Helper()
	nodes := map[uint16]*scheduler.Scheduler{}
	for n := uint16(1); n <= 3; n++ {
		nodes[n] = scheduler.New(scheduler.WithNode(n), scheduler.WithKindNames(reg.KindName))
	}
	link(nodes, map[uint16]uint16{1: 1, 2: 2, 3: 3})
	ch := nodes[3].NewChannel(0)
	id := nodes[1].Spawn(&taker{In: ch, N: 3})
	em, err := nodes[1].Emigrate(id, id.Node())
	require.NoError(t, err)
	require.NoError(t, nodes[2].Immigrate(em, id.Node()))
	tickAll(t, nodes, func() bool { return nodes[3].Balance(ch) == -1 })

	snap := &clusterSnapshot{NextNode: 4}
	for n := uint16(1); n <= 3; n++ {
		b, err := reg.DumpWorld(nodes[n].World())
		require.NoError(t, err)
		snap.Worlds = append(snap.Worlds, storedWorld{Node: n, Hosts: []uint16{n}, Blob: b})
	}
	return snap, id, ch
}

func TestRehomeLetsAMigratedWaiterGetItsValuesAfterARestore(t *testing.T) {
	reg := testRegistry(t)
	for _, m := range []int{3, 2, 1, 4} {
		snap, id, ch := migratedWaiter(t, reg)
		ps, _, err := plan(snap, m)
		require.NoError(t, err)
		blobs, err := prepareWorlds(reg, snap, ps)
		require.NoError(t, err)
		nodes := map[uint16]*scheduler.Scheduler{}
		for i, p := range ps {
			if blobs[i] == nil {
				nodes[p.Node] = scheduler.New(scheduler.WithNode(p.Node))
				continue
			}
			w, err := reg.LoadWorld(blobs[i])
			require.NoError(t, err)
			nodes[p.Node], err = scheduler.Restore(w)
			require.NoError(t, err, "restore onto %d workers", m)
		}
		route := routesOf(ps)
		link(nodes, route)
		host := nodes[route[1]]
		require.NotNil(t, host.Behavior(id), "onto %d workers: the waiter is back on the worker of its birth node", m)
		nodes[route[3]].Spawn(&giver{Out: ch, Vals: []int{7, 8, 9}})
		tickAll(t, nodes, func() bool {
			in, err := host.Info(id)
			return err == nil && in.State == tasklet.Paused
		})
		assert.Equal(t, []int{7, 8, 9}, host.Behavior(id).(*taker).Got, "onto %d workers", m)
	}
}

func TestRehomeMovesTimersWithTheTimeLeft(t *testing.T) {
	src := &scheduler.World{Node: 2, Clock: 1000, Tasklets: []scheduler.TaskletState{
		{ID: tasklet.ID(1<<48 | 1), State: tasklet.Blocked, Wait: 3, Cases: []tasklet.Case{
			tasklet.RecvCase(channel.ID(3<<48 | 1)), tasklet.TimeoutCase(50)}},
	}, Timers: []scheduler.TimerState{{At: 1040, Seq: 9, Tasklet: tasklet.ID(1<<48 | 1), Case: 1}}}
	dst := &scheduler.World{Node: 1, Clock: 5000, Timers: []scheduler.TimerState{{At: 5010, Seq: 4, Tasklet: tasklet.ID(1<<48 | 2), Case: -1}}}
	third := &scheduler.World{Node: 3, Channels: []scheduler.ChannelState{{ID: channel.ID(3<<48 | 1),
		Receivers: []scheduler.WaiterState{{Tasklet: tasklet.ID(1<<48 | 1), Case: 0, Remote: true, Node: 1, Seq: 3}}}}}
	worlds := map[uint16]*scheduler.World{1: dst, 2: src, 3: third}
	touched, err := rehome(worlds, map[uint16]uint16{1: 1, 2: 2, 3: 3})
	require.NoError(t, err)
	assert.Equal(t, map[uint16]bool{1: true, 2: true}, touched)
	assert.Empty(t, src.Tasklets)
	assert.Empty(t, src.Timers)
	require.Len(t, dst.Tasklets, 1)
	require.Len(t, dst.Timers, 2)
	assert.Equal(t, time.Duration(5010), dst.Timers[0].At)
	assert.Equal(t, time.Duration(5040), dst.Timers[1].At, "40 left of the timeout, on the new world's clock")
	assert.Equal(t, []uint64{1, 2}, []uint64{dst.Timers[0].Seq, dst.Timers[1].Seq})
	assert.Equal(t, uint64(2), dst.TimerSeq)
	assert.True(t, third.Channels[0].Receivers[0].Remote, "a third world's entry stays remote: its completion goes to the birth node")
}

func TestRehomeRefusesAnUnhostedBirthNode(t *testing.T) {
	w := &scheduler.World{Node: 2, Tasklets: []scheduler.TaskletState{{ID: tasklet.ID(7<<48 | 1), State: tasklet.Runnable}}}
	_, err := rehome(map[uint16]*scheduler.World{2: w}, map[uint16]uint16{2: 2})
	assert.ErrorContains(t, err, "node 7")
}

// recording is a scheduler.Remote that records what it is asked.
type recording struct {
	ops, cancels [][]tasklet.Case
	closes       []channel.ID
}

func (r *recording) Op(_ tasklet.ID, _ uint32, cases []tasklet.Case) {
	r.ops = append(r.ops, slices.Clone(cases))
}
func (r *recording) Cancel(_ tasklet.ID, _ uint32, cases []tasklet.Case) {
	r.cancels = append(r.cancels, slices.Clone(cases))
}
func (r *recording) Done(scheduler.RemoteWait, int, any, error) {}
func (r *recording) CloseRemote(ch channel.ID) error {
	r.closes = append(r.closes, ch)
	return nil
}

func TestMergedRemoteHidesMergedChannelsFromTheNode(t *testing.T) {
	rec := &recording{}
	merged, remote := channel.ID(4<<48|2), channel.ID(2<<48|5)
	m := newMergedRemote(rec, restoredWith(t, 1, merged), []uint16{1, 4}) // node 1 holds a channel of node 4
	cases := []tasklet.Case{tasklet.SendCase(merged, "v"), tasklet.RecvCase(remote), tasklet.TimeoutCase(5)}
	m.Op(9, 1, cases)
	m.Cancel(9, 1, cases)
	for _, got := range [][]tasklet.Case{rec.ops[0], rec.cancels[0]} {
		require.Len(t, got, 3, "indices are kept")
		assert.Equal(t, uint16(1), got[0].Chan.Node(), "a merged channel looks local to the node")
		assert.Equal(t, tasklet.DirSend, got[0].Dir)
		assert.Nil(t, got[0].Value)
		assert.Equal(t, cases[1], got[1], "a remote case is untouched")
		assert.Equal(t, cases[2], got[2])
	}
	assert.Equal(t, merged, cases[0].Chan, "the scheduler's own cases are not changed")
	plain := []tasklet.Case{tasklet.RecvCase(remote)}
	m.Op(9, 2, plain)
	assert.Equal(t, plain, rec.ops[1])
}

// restoredWith is a scheduler of node n holding channel ch (of any node).
func restoredWith(t *testing.T, n uint16, ch channel.ID) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.Restore(&scheduler.World{Node: n, Channels: []scheduler.ChannelState{{ID: ch, Preference: -1}}})
	require.NoError(t, err)
	return s
}

// probe receives once and keeps what its step saw.
type probe struct {
	Ch   channel.ID
	Err  error
	Wait bool
}

func (p *probe) Step(t *tasklet.T) tasklet.Op {
	if p.Wait {
		p.Err = t.Err()
		return t.Exit()
	}
	p.Wait = true
	return t.Recv(p.Ch)
}

func TestMergedRemoteClosesGoneMergedChannels(t *testing.T) {
	rec := &recording{}
	s := scheduler.New(scheduler.WithNode(1))
	s.SetRemote(newMergedRemote(rec, s, []uint16{1, 4}))
	p := &probe{Ch: channel.ID(4<<48 | 9)} // of merged node 4, not held: closed and drained
	s.Spawn(p)
	require.NoError(t, s.Run(context.Background()))
	assert.ErrorIs(t, p.Err, channel.ErrClosed, "as on the channel's own node")
	assert.Empty(t, rec.ops, "nothing went to the ipc node")
}

func TestMergedRemoteClosesOnlyTrulyRemoteChannels(t *testing.T) {
	rec := &recording{}
	s := scheduler.New(scheduler.WithNode(1))
	m := newMergedRemote(rec, s, []uint16{1, 4})
	s.SetRemote(m)
	gone, remote := channel.ID(4<<48|9), channel.ID(2<<48|5)
	require.NoError(t, s.Close(gone), "a merged node's channel that is gone was closed and drained")
	require.NoError(t, s.Close(remote))
	assert.Equal(t, []channel.ID{remote}, rec.closes, "only the other node's channel goes to the ipc node")
}
