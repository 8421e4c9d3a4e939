package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// router joins schedulers in one process the way package ipc joins nodes:
// every message is delivered with Do, so it arrives between steps.
type router struct {
	self  uint16
	nodes map[uint16]*scheduler.Scheduler
}

func (r *router) Op(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	byHome := map[uint16][]scheduler.RemoteCase{}
	for i, c := range cases {
		if c.Chan.Node() != r.self && (c.Dir == tasklet.DirRecv || c.Dir == tasklet.DirSend) {
			idx := i
			if len(cases) == 1 {
				idx = -1 // the scheduler reports a plain op's case as -1
			}
			byHome[c.Chan.Node()] = append(byHome[c.Chan.Node()], scheduler.RemoteCase{Index: idx, Case: c})
		}
	}
	for home, rcs := range byHome {
		w := scheduler.RemoteWait{Node: r.self, Tasklet: t, Seq: wait}
		r.nodes[home].Do(func(s *scheduler.Scheduler) { s.RemoteOp(w, rcs) })
	}
}

func (r *router) Cancel(t tasklet.ID, wait uint32, cases []tasklet.Case) {
	for _, c := range cases {
		if home := c.Chan.Node(); home != r.self {
			w := scheduler.RemoteWait{Node: r.self, Tasklet: t, Seq: wait}
			r.nodes[home].Do(func(s *scheduler.Scheduler) { s.CancelRemote(w) })
		}
	}
}

func (r *router) Done(w scheduler.RemoteWait, idx int, v any, err error) {
	r.nodes[w.Node].Do(func(s *scheduler.Scheduler) { s.Complete(w.Tasklet, w.Seq, idx, v, err) })
}

func (r *router) CloseRemote(ch channel.ID) error {
	home, ok := r.nodes[ch.Node()]
	if !ok {
		return fmt.Errorf("router: no node %d", ch.Node())
	}
	home.Do(func(s *scheduler.Scheduler) { _ = s.Close(ch) })
	return nil
}

func twoNodes() (a, b *scheduler.Scheduler) {
	nodes := map[uint16]*scheduler.Scheduler{}
	a = scheduler.New(scheduler.WithNode(1), scheduler.WithRemote(&router{self: 1, nodes: nodes}))
	b = scheduler.New(scheduler.WithNode(2), scheduler.WithRemote(&router{self: 2, nodes: nodes}))
	nodes[1], nodes[2] = a, b
	return a, b
}

// tickUntil ticks both nodes until done reports true (or a bound is hit).
func tickUntil(t *testing.T, done func() bool, nodes ...*scheduler.Scheduler) {
	t.Helper()
	for i := 0; i < 1000 && !done(); i++ {
		for _, s := range nodes {
			require.NoError(t, s.Tick())
		}
	}
	require.True(t, done(), "nodes did not reach the expected state")
}

type recvLog struct {
	Ch  channel.ID
	Got []any
	Err error
	N   int
}

func (r *recvLog) Step(t *tasklet.T) tasklet.Op {
	if v := t.Value(); v != nil {
		r.Got = append(r.Got, v)
	}
	if err := t.Err(); err != nil {
		r.Err = err
		return t.Exit()
	}
	if len(r.Got) == r.N {
		return t.Exit()
	}
	return t.Recv(r.Ch)
}

type sendList struct {
	Ch   channel.ID
	Vals []int
	Err  error
}

func (s *sendList) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		s.Err = err
		return t.Exit()
	}
	if len(s.Vals) == 0 {
		return t.Exit()
	}
	v := s.Vals[0]
	s.Vals = s.Vals[1:]
	return t.Send(s.Ch, v)
}

func TestRemoteRendezvousKeepsFIFOWithLocalWaiters(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0) // home: b
	local := &recvLog{Ch: ch, N: 1}
	remote := &recvLog{Ch: ch, N: 1}
	a.Spawn(remote) // a remote receiver queues first...
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
	b.Spawn(local) // ...then a local one
	tickUntil(t, func() bool { return b.Balance(ch) == -2 }, a, b)

	b.Spawn(&sendList{Ch: ch, Vals: []int{10, 20}})
	tickUntil(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, a, b)
	assert.Equal(t, []any{10}, remote.Got, "the remote receiver queued first and must get the first value")
	assert.Equal(t, []any{20}, local.Got)
	assert.Equal(t, 0, b.Balance(ch))
}

func TestRemoteSenderIsARendezvous(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	snd := &sendList{Ch: ch, Vals: []int{1, 2, 3}}
	a.Spawn(snd)
	tickUntil(t, func() bool { return b.Balance(ch) == 1 }, a, b)
	assert.Equal(t, []int{2, 3}, snd.Vals, "the sender must wait for a receiver")
	rcv := &recvLog{Ch: ch, N: 3}
	b.Spawn(rcv)
	tickUntil(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, a, b)
	assert.Equal(t, []any{1, 2, 3}, rcv.Got)
}

func TestCloseWakesRemoteWaiters(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	rcv := &recvLog{Ch: ch, N: 1}
	a.Spawn(rcv)
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
	require.NoError(t, b.Close(ch))
	tickUntil(t, func() bool { return a.Len() == 0 }, a, b)
	assert.ErrorIs(t, rcv.Err, channel.ErrClosed)
}

// closer closes its channel and keeps what Close returned.
type closer struct {
	Ch     channel.ID
	Err    error
	Closed bool
}

func (c *closer) Step(t *tasklet.T) tasklet.Op {
	c.Err, c.Closed = t.Close(c.Ch), true
	return t.Exit()
}

func TestATaskletClosesAChannelOfAnotherNode(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	there, here := &recvLog{Ch: ch, N: 1}, &recvLog{Ch: ch, N: 1}
	b.Spawn(there)
	a.Spawn(here)
	tickUntil(t, func() bool { return b.Balance(ch) == -2 }, a, b)
	c := &closer{Ch: ch}
	a.Spawn(c)
	tickUntil(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, a, b)
	require.True(t, c.Closed)
	assert.NoError(t, c.Err, "a channel of another node is closed through the Remote")
	assert.ErrorIs(t, there.Err, channel.ErrClosed, "the receiver on the channel's node")
	assert.ErrorIs(t, here.Err, channel.ErrClosed, "the receiver on the closer's node")
	assert.Nil(t, b.Channel(ch), "the closed, drained channel is gone from its home")
}

func TestClosingAChannelOfAnotherNodeWithoutARemoteFails(t *testing.T) {
	s := scheduler.New(scheduler.WithNode(1))
	c := &closer{Ch: channel.ID(2<<tasklet.NodeBits | 1)}
	s.Spawn(c)
	require.NoError(t, s.Run(context.Background()))
	assert.ErrorIs(t, c.Err, scheduler.ErrRemoteChannel)
}

func TestEmigrateBlockedTaskletKeepsItsPlace(t *testing.T) {
	a, b := twoNodes()
	ch := a.NewChannel(0)
	first := &recvLog{Ch: ch, N: 1}
	second := &recvLog{Ch: ch, N: 1}
	id1 := a.Spawn(first)
	a.Spawn(second)
	require.NoError(t, a.Tick())
	require.Equal(t, -2, a.Balance(ch))

	em, err := a.Emigrate(id1, 2) // first moves to b while blocked on a's channel
	require.NoError(t, err)
	assert.Equal(t, -2, a.Balance(ch), "the emigrant keeps its place as a remote waiter")
	require.NoError(t, b.Immigrate(em, 1))
	moved := b.Behavior(id1).(*recvLog) // in one process, the same value as first

	a.Spawn(&sendList{Ch: ch, Vals: []int{7, 8}})
	tickUntil(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, a, b)
	assert.Equal(t, []any{7}, moved.Got, "the emigrant was first in the queue and runs on b")
	assert.Equal(t, []any{8}, second.Got)
	assert.Nil(t, a.Behavior(id1), "nothing of the emigrant may stay behind to run twice")
}

func TestImmigrateTakesBackRemoteWaiters(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0) // home b; the tasklet starts on a
	rcv := &recvLog{Ch: ch, N: 1}
	id := a.Spawn(rcv)
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
	em, err := a.Emigrate(id, 2)
	require.NoError(t, err)
	require.NoError(t, b.Immigrate(em, 1))
	info, err := b.Info(id)
	require.NoError(t, err)
	assert.Equal(t, tasklet.Blocked, info.State)
	assert.Equal(t, -1, b.Balance(ch), "one waiter, now local")

	b.Spawn(&sendList{Ch: ch, Vals: []int{5}})
	tickUntil(t, func() bool { return b.Len() == 0 }, a, b)
	got := b.Behavior(id)
	assert.Nil(t, got, "finished")
	assert.Equal(t, 0, a.Len())
}

func TestRemoteWaitersSurviveRestore(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	rcv := &recvLog{Ch: ch, N: 1}
	a.Spawn(rcv)
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
	b2, err := scheduler.Restore(b.World(), scheduler.WithRemote(&router{self: 2, nodes: map[uint16]*scheduler.Scheduler{1: a}}))
	require.NoError(t, err)
	assert.Equal(t, -1, b2.Balance(ch))
	cs, err := b2.ChannelState(ch)
	require.NoError(t, err)
	require.Len(t, cs.Receivers, 1)
	assert.True(t, cs.Receivers[0].Remote)
	assert.Equal(t, uint16(1), cs.Receivers[0].Node)
	b2.Spawn(&sendList{Ch: ch, Vals: []int{9}})
	tickUntil(t, func() bool { return a.Len() == 0 }, a, b2)
	assert.Equal(t, []any{9}, rcv.Got)
	assert.False(t, errors.Is(rcv.Err, channel.ErrClosed))
}

// TestEmigrateDuringTick moves a tasklet that already stepped in the
// current Tick and was parked for the next one: it must not step again on
// the node it left. Tick 2 runs: the counter yields; the sender wakes the
// receiver (preference 1, so the sender keeps going and the receiver runs
// later in the tick); the counter comes round again and is parked; the
// receiver runs and emigrates it.
func TestEmigrateDuringTick(t *testing.T) {
	a, _ := twoNodes()
	ch := a.NewChannel(0)
	a.Channel(ch).SetPreference(1)
	steps := 0
	mover := &migrateOnWake{Ch: ch, To: 2}
	a.Spawn(mover)
	mover.Target = a.Spawn(&stepCounter{N: &steps})
	a.Spawn(&sendLater{Ch: ch})
	require.NoError(t, a.Tick())
	require.NoError(t, a.Tick())
	require.True(t, mover.Moved, "the receiver emigrated the counter in tick 2")
	assert.Equal(t, 2, steps)
	require.NoError(t, a.Tick())
	assert.Equal(t, 2, steps, "nothing of the counter may step again on the node it left")
	assert.Nil(t, a.Behavior(mover.Target))
}

// stepCounter counts its steps through a pointer (in-process test only)
// and yields.
type stepCounter struct{ N *int }

func (c *stepCounter) Step(t *tasklet.T) tasklet.Op { *c.N++; return t.Yield() }

// migrateOnWake receives once, then emigrates Target from inside its step.
type migrateOnWake struct {
	Ch     channel.ID
	Target tasklet.ID
	To     uint16
	Moved  bool
	Woken  bool
}

func (m *migrateOnWake) Step(t *tasklet.T) tasklet.Op {
	if !m.Woken {
		m.Woken = true
		return t.Recv(m.Ch)
	}
	if _, err := t.Host().(*scheduler.Scheduler).Emigrate(m.Target, m.To); err != nil {
		return t.Fail(err)
	}
	m.Moved = true
	return t.Exit()
}

// sendLater yields once, then sends one value.
type sendLater struct {
	Ch   channel.ID
	Sent bool
	Y    bool
}

func (s *sendLater) Step(t *tasklet.T) tasklet.Op {
	switch {
	case !s.Y:
		s.Y = true
		return t.Yield()
	case !s.Sent:
		s.Sent = true
		return t.Send(s.Ch, 1)
	}
	return t.Exit()
}

// stepFn is a behavior that runs fn at each step until fn says it is done.
type stepFn struct{ fn func(t *tasklet.T) bool }

func (b *stepFn) Step(t *tasklet.T) tasklet.Op {
	if b.fn(t) {
		return t.Exit()
	}
	return t.Yield()
}

func TestFlushEndsEverySliceAndRun(t *testing.T) {
	s := scheduler.New()
	var events []string
	s.SetFlush(func() { events = append(events, "flush") })
	assert.False(t, s.InRun())
	steps := 0
	s.Spawn(&stepFn{fn: func(*tasklet.T) bool {
		assert.True(t, s.InRun(), "a step runs inside a run")
		events = append(events, "step")
		steps++
		return steps == 3
	}})
	require.NoError(t, s.Run(context.Background()))
	assert.False(t, s.InRun())
	require.NotEmpty(t, events)
	assert.Equal(t, "flush", events[len(events)-1], "Run flushes after the last step: %v", events)

	events = nil
	s.Spawn(&stepFn{fn: func(*tasklet.T) bool { events = append(events, "step"); return true }})
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"step", "flush"}, events, "a Tick flushes when it returns")
}

func TestPutFillsReceiversThenTheBufferThenQueues(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(1)
	took, err := s.Put(ch, 1)
	require.NoError(t, err)
	assert.True(t, took, "into the buffer")
	took, err = s.Put(ch, 2)
	require.NoError(t, err)
	assert.False(t, took, "the buffer is full: queued as a sender")
	assert.Equal(t, 1, s.Balance(ch))
	var got []int
	for range 2 {
		v, err := s.Recv(context.Background(), ch)
		require.NoError(t, err)
		got = append(got, v.(int))
	}
	assert.Equal(t, []int{1, 2}, got)

	require.NoError(t, s.Close(ch))
	_, err = s.Put(ch, 3)
	assert.ErrorIs(t, err, channel.ErrClosed)
	_, err = s.Put(channel.ID(999), 3)
	assert.Error(t, err, "an unknown channel")
}

// A tasklet in a plain Recv on another node's channel keeps that wait, and
// saves the same, through a restore of its own node, where the channel has
// no object to name it by; the value then reaches it.
func TestPlainWaitOnRemoteChannelSurvivesRestore(t *testing.T) {
	nodes := map[uint16]*scheduler.Scheduler{}
	a := scheduler.New(scheduler.WithNode(1), scheduler.WithRemote(&router{self: 1, nodes: nodes}))
	b := scheduler.New(scheduler.WithNode(2), scheduler.WithRemote(&router{self: 2, nodes: nodes}))
	nodes[1], nodes[2] = a, b
	ch := b.NewChannel(0)
	rcv := &recvLog{Ch: ch, N: 1}
	id := a.Spawn(rcv)
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)
	want, ok := a.WaitOf(id)
	require.True(t, ok)
	require.True(t, want.Plain)
	require.Equal(t, []tasklet.Case{tasklet.RecvCase(ch)}, want.Cases)

	a2 := restoreNode1(t, a.World(), nodes, id, want)
	b.Spawn(&sendList{Ch: ch, Vals: []int{7}})
	tickUntil(t, func() bool { return a2.Len() == 0 }, a2, b)
	assert.Equal(t, []any{7}, rcv.Got)
	assert.NoError(t, rcv.Err)
}

// restoreNode1 restores node 1 of nodes from saved, in place of the node
// that saved it, and checks that tasklet id waits there as it did (want)
// and that the restored world saves the same.
func restoreNode1(t *testing.T, saved *scheduler.World, nodes map[uint16]*scheduler.Scheduler, id tasklet.ID, want scheduler.Wait) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.Restore(saved, scheduler.WithRemote(&router{self: 1, nodes: nodes}))
	require.NoError(t, err)
	nodes[1] = s
	got, ok := s.WaitOf(id)
	require.True(t, ok)
	assert.Equal(t, want, got)
	assert.Equal(t, saved.Tasklets, s.World().Tasklets, "the restored world saves the same")
	return s
}

// recvOnce receives one value from In into Got.
type recvOnce struct {
	In   channel.ID
	Got  any
	Err  error
	Done bool
}

func (r *recvOnce) Step(t *tasklet.T) tasklet.Op {
	if r.Done {
		return t.Exit()
	}
	if t.Value() != nil || t.Err() != nil {
		r.Got, r.Err, r.Done = t.Value(), t.Err(), true
		return t.Exit()
	}
	return t.Recv(r.In)
}

// PutAll takes a batch as Put takes each value (a waiting receiver, then
// the buffer, then queued senders), the buffer's part in one copy, and
// counts as room the first `counted` values that left the buffer room
// with no sender waiting.
func TestPutAllIsPutInOrder(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name              string
		capacity, before  int // values Put and then taken before the batch: the ring wraps
		buffered          int // values Put, left in the buffer
		receiver          bool
		vals              []any
		counted, wantRoom int
		wantBalance       int
	}{
		{name: "a receiver, then the buffer, then senders", capacity: 4, receiver: true,
			vals: []any{1, 2, 3, 4, 5, 6}, counted: 6, wantRoom: 4, wantBalance: 1},
		{name: "behind buffered values, counted stops", capacity: 4, buffered: 1,
			vals: []any{1, 2, 3}, counted: 2, wantRoom: 2},
		{name: "the ring wraps", capacity: 4, before: 3,
			vals: []any{1, 2, 3}, counted: 3, wantRoom: 3},
		{name: "fills the buffer exactly", capacity: 3,
			vals: []any{1, 2, 3}, counted: 3, wantRoom: 2},
		{name: "a full buffer: all queue", capacity: 2, buffered: 2,
			vals: []any{1, 2}, counted: 2, wantRoom: 0, wantBalance: 2},
		{name: "a sent error", capacity: 4,
			vals: []any{1, channel.Bomb{Err: boom}, 3}, counted: 3, wantRoom: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := scheduler.New()
			ch := s.NewChannel(tc.capacity)
			for i := range tc.before {
				_, err := s.Put(ch, -1-i)
				require.NoError(t, err)
				_, err = s.Recv(ctx, ch)
				require.NoError(t, err)
			}
			var want []any
			for i := range tc.buffered {
				_, err := s.Put(ch, 100+i)
				require.NoError(t, err)
				want = append(want, 100+i)
			}
			r := &recvOnce{In: ch}
			if tc.receiver {
				s.Spawn(r)
				require.NoError(t, s.Tick())
				require.Equal(t, -1, s.Balance(ch), "the receiver waits")
			}
			room, err := s.PutAll(ch, tc.vals, tc.counted)
			require.NoError(t, err)
			assert.Equal(t, tc.wantRoom, room)
			assert.Equal(t, tc.wantBalance, s.Balance(ch))
			rest := tc.vals
			if tc.receiver {
				require.NoError(t, s.Tick())
				assert.Equal(t, tc.vals[0], r.Got, "the waiting receiver took the first value")
				rest = rest[1:]
			}
			want = append(want, rest...)
			for _, w := range want {
				v, err := s.Recv(ctx, ch)
				if b, ok := w.(channel.Bomb); ok {
					assert.ErrorIs(t, err, b.Err, "a sent error reaches the receiver in its place")
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, w, v)
			}
			assert.Equal(t, 0, s.Balance(ch))
		})
	}
}

// A select of another node's tasklet across three of this node's channels
// queues its wait in three allocations (the group, its refs and the
// queue entries' Remotes), not one per case and per growth of the refs.
func TestRemoteSelectWaitAllocations(t *testing.T) {
	s := scheduler.New(scheduler.WithNode(2))
	var cases []scheduler.RemoteCase
	for i := range 3 {
		cases = append(cases, scheduler.RemoteCase{Index: i, Case: tasklet.Case{Dir: tasklet.DirRecv, Chan: s.NewChannel(0)}})
	}
	seq := uint32(0)
	wait := func() {
		seq++
		w := scheduler.RemoteWait{Node: 1, Tasklet: tasklet.ID(1<<tasklet.NodeBits | 1), Seq: seq}
		s.RemoteOp(w, cases)
		s.CancelRemote(w)
	}
	for range 1000 { // the wait map and the channels' queues at their size
		wait()
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(1000, wait), 3.0)
}
