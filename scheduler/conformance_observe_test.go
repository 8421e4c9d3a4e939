package scheduler_test

// Conformance tests of DESIGN.md "Semantics": hooks, the block trap,
// introspection and change tracking.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Hooks

func TestScheduleHook(t *testing.T) {
	type pair struct{ prev, next tasklet.ID }
	var pairs []pair
	s := scheduler.New(scheduler.WithScheduleHook(func(prev, next tasklet.ID) {
		pairs = append(pairs, pair{prev, next})
	}))
	a := s.Spawn(yieldN(new(logger), "a", 2)) // steps: yield, yield, exit
	b := s.Spawn(yieldN(new(logger), "b", 2))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []pair{{0, a}, {a, b}, {b, a}, {a, b}, {b, a}, {a, b}}, pairs)

	old := s.SetScheduleHook(nil)
	require.NotNil(t, old)
	pairs = nil
	s.Spawn(yieldN(new(logger), "c", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Empty(t, pairs, "a removed hook is not called")

	// A tasklet that keeps running without a switch is one switch.
	s.SetScheduleHook(func(prev, next tasklet.ID) { pairs = append(pairs, pair{prev, next}) })
	d := s.Spawn(busyN(10))
	require.NoError(t, s.Run(t.Context()))
	require.Len(t, pairs, 1)
	assert.Equal(t, d, pairs[0].next)
}

func TestChannelHook(t *testing.T) {
	var events []scheduler.ChannelEvent
	s := scheduler.New(scheduler.WithChannelHook(func(e scheduler.ChannelEvent) { events = append(events, e) }))
	ch := s.NewChannel(0)
	buf := s.NewChannel(1)
	r := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	snd := s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },  // a receiver waits
		func(t *tasklet.T) tasklet.Op { return t.Send(buf, 1) }, // room in the buffer
		func(t *tasklet.T) tasklet.Op { return t.Recv(buf) },    // a value is buffered
		func(t *tasklet.T) tasklet.Op { return t.Recv(buf) },    // empty: blocks
		func(t *tasklet.T) tasklet.Op { return t.Exit() }))
	s.Spawn(steps(yield, yield, yield,
		func(t *tasklet.T) tasklet.Op { return t.Send(buf, 2) }, // receiver waits
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 3) })) // blocks
	err := s.Run(t.Context())
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	last := tasklet.ID(3)
	assert.Equal(t, []scheduler.ChannelEvent{
		{Chan: ch, Tasklet: r, Sending: false, WillBlock: true},
		{Chan: ch, Tasklet: snd, Sending: true, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: true, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: false, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: false, WillBlock: true},
		{Chan: buf, Tasklet: last, Sending: true, WillBlock: false},
		{Chan: ch, Tasklet: last, Sending: true, WillBlock: true},
	}, events)

	old := s.SetChannelHook(nil)
	require.NotNil(t, old)
}

// ---------------------------------------------------------------------------
// Block trap

func TestBlockTrap(t *testing.T) {
	tests := []struct {
		name string
		op   func(ch channel.ID) func(t *tasklet.T) tasklet.Op
	}{
		{"recv", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }
		}},
		{"send", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }
		}},
		{"select", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(ch), tasklet.TimeoutCase(time.Second))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			ch := s.NewChannel(0)
			var got error
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					assert.False(tt, t.SetBlockTrap(true))
					assert.True(tt, t.BlockTrap())
					return tc.op(ch)(t)
				},
				func(t *tasklet.T) tasklet.Op { got = t.Err(); return t.Exit() }))
			require.NoError(t, s.Run(t.Context()), "the trapped op does not block")
			assert.ErrorIs(t, got, tasklet.ErrBlockTrap)
			assert.Equal(t, 0, s.Balance(ch))
			assert.Equal(t, time.Duration(0), s.Now(), "no timer was set")
		})
	}
	t.Run("recv on the channel used last", func(t *testing.T) {
		// The run loop's own path for a receive that waits takes the
		// channel of the last operation: the trap holds there too.
		s := scheduler.New()
		ch := s.NewChannel(1)
		var got error
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },
			func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { t.SetBlockTrap(true); return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { got = t.Err(); return t.Exit() }))
		require.NoError(t, s.Run(t.Context()), "the trapped op does not block")
		assert.ErrorIs(t, got, tasklet.ErrBlockTrap)
		assert.Equal(t, 0, s.Balance(ch))
	})
	t.Run("ops that find a partner still work", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "v") }))
		var got any
		var gotErr error
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { t.SetBlockTrap(true); return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { got, gotErr = t.Value(), t.Err(); return t.Exit() }))
		require.NoError(t, s.Run(t.Context()))
		assert.NoError(t, gotErr)
		assert.Equal(t, "v", got)
	})
}

// ---------------------------------------------------------------------------
// Introspection

func TestIntrospection(t *testing.T) {
	s := scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(2), s.NewChannel(0)
	s.Channel(c3).SetPreference(1)
	recv := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c1) }))
	send := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(c3, "x") }))
	sleep := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Sleep(5 * time.Second) }))
	paused := s.SpawnPaused(yieldN(new(logger), "p", 1))
	run1 := s.Spawn(yieldN(new(logger), "r", 5))
	sel := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(c1), tasklet.SendCase(c3, 1), tasklet.TimeoutCase(time.Minute))
	}))
	run2 := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { t.SetAtomic(true); return t.Yield() }, yield))
	s.Post(c2, "b1") // fills c2 partly
	require.NoError(t, s.Tick())

	assert.Equal(t, 7, s.Len())
	assert.Equal(t, []tasklet.ID{run1, run2}, s.RunQueue())
	assert.Equal(t, 2, s.RunCount())

	want := []scheduler.Info{
		{ID: recv, State: tasklet.Blocked, Steps: 1, Op: "receiving", Chans: []channel.ID{c1}},
		{ID: send, State: tasklet.Blocked, Steps: 1, Op: "sending", Chans: []channel.ID{c3}},
		{ID: sleep, State: tasklet.Sleeping, Steps: 1, Op: "sleeping", WakeAt: 5 * time.Second},
		{ID: paused, State: tasklet.Paused, Steps: 0},
		{ID: run1, State: tasklet.Runnable, Steps: 1},
		{ID: sel, State: tasklet.Blocked, Steps: 1, Op: "selecting", Chans: []channel.ID{c1, c3}},
		{ID: run2, State: tasklet.Runnable, Steps: 1, Atomic: true},
	}
	infos := s.Tasklets()
	require.Len(t, infos, len(want))
	for i, w := range want {
		got := infos[i]
		assert.Equal(t, w.ID, got.ID)
		assert.Equal(t, w.State, got.State, "%v", w.ID)
		assert.Equal(t, w.Steps, got.Steps, "%v", w.ID)
		assert.Equal(t, w.Op, got.Op, "%v", w.ID)
		assert.Equal(t, w.Chans, got.Chans, "%v", w.ID)
		assert.Equal(t, w.WakeAt, got.WakeAt, "%v", w.ID)
		assert.Equal(t, w.Atomic, got.Atomic, "%v", w.ID)
		assert.Equal(t, "scheduler_test.fn", got.Kind)
		one, err := s.Info(w.ID)
		require.NoError(t, err)
		assert.Equal(t, got, one)
	}

	chans := s.Channels()
	require.Len(t, chans, 3)
	assert.Equal(t, scheduler.ChannelInfo{ID: c1, Cap: 0, Len: 0, Balance: -2, Preference: -1,
		Receivers: []tasklet.ID{recv, sel}}, chans[0])
	assert.Equal(t, scheduler.ChannelInfo{ID: c2, Cap: 2, Len: 1, Balance: 0, Preference: -1}, chans[1])
	assert.Equal(t, scheduler.ChannelInfo{ID: c3, Cap: 0, Len: 0, Balance: 2, Preference: 1,
		Senders: []tasklet.ID{send, sel}}, chans[2])
	one, ok := s.ChannelInfo(c2)
	require.True(t, ok)
	assert.Equal(t, chans[1], one)
	_, ok = s.ChannelInfo(channel.ID(999))
	assert.False(t, ok)
	assert.Equal(t, uint64(6), s.Steps())
	assert.Equal(t, tasklet.ID(0), s.Current())
}

// ---------------------------------------------------------------------------
// Change tracking

func TestTakeChanges(t *testing.T) {
	s := scheduler.New(scheduler.WithChangeTracking())
	c := s.NewChannel(0)
	idle := s.NewChannel(0)
	a := s.Spawn(yieldN(new(logger), "a", 1))
	b := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Recv(c)
		}
		t.Err()
		return t.Exit()
	}))
	ch := s.TakeChanges()
	assert.Equal(t, []tasklet.ID{a, b}, ch.Tasklets, "new tasklets")
	assert.Equal(t, []channel.ID{c, idle}, ch.Channels, "new channels")
	assert.Empty(t, ch.DeadTasklets)

	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
	ch = s.TakeChanges()
	assert.Equal(t, []tasklet.ID{b}, ch.Tasklets, "b stepped and is alive")
	assert.Equal(t, []tasklet.ID{a}, ch.DeadTasklets, "a finished")
	assert.Equal(t, []channel.ID{c}, ch.Channels, "only the channel b blocked on changed")
	assert.Empty(t, ch.DeadChannels)

	ch = s.TakeChanges()
	assert.Empty(t, ch.Tasklets, "nothing happened since")
	assert.Empty(t, ch.Channels)
	assert.Empty(t, ch.DeadTasklets)

	require.NoError(t, s.Close(c))
	require.NoError(t, s.Run(t.Context()))
	ch = s.TakeChanges()
	assert.Empty(t, ch.Tasklets)
	assert.Equal(t, []tasklet.ID{b}, ch.DeadTasklets)
	assert.Empty(t, ch.Channels, "the closed channel is gone")
	assert.Equal(t, []channel.ID{c}, ch.DeadChannels)

	p := s.SpawnPaused(yieldN(new(logger), "p", 1))
	s.TakeChanges()
	_, err := s.Release(p)
	require.NoError(t, err)
	assert.Equal(t, []tasklet.ID{p}, s.TakeChanges().DeadTasklets, "a released tasklet left")
}

// A listing of many sleepers gives each its own deadline, also after a
// sleep ended and another began (the first timer is stale then), and All
// stops where its caller does.
func TestListingSleepers(t *testing.T) {
	s := scheduler.New()
	const n = 2000
	ids := make([]tasklet.ID, n)
	for i := range ids {
		d := time.Duration(n-i) * time.Second
		ids[i] = s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Millisecond) },
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) }, // the second sleep, from 1 ms
			exit))
	}
	idle := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(s.NewChannel(0)) }))
	require.NoError(t, s.Tick())
	s.Clock().(*scheduler.VirtualClock).Set(time.Millisecond)
	require.NoError(t, s.Tick())

	infos := s.Tasklets()
	require.Len(t, infos, n+1)
	for i, id := range ids {
		assert.Equal(t, id, infos[i].ID)
		assert.Equal(t, tasklet.Sleeping, infos[i].State, "%v", id)
		assert.Equal(t, time.Millisecond+time.Duration(n-i)*time.Second, infos[i].WakeAt, "%v", id)
	}
	assert.Equal(t, idle, infos[n].ID)
	assert.Zero(t, infos[n].WakeAt)
	one, err := s.Info(ids[7])
	require.NoError(t, err)
	assert.Equal(t, infos[7], one)

	var seen []tasklet.ID
	for in := range s.All() {
		if len(seen) == 3 {
			break
		}
		seen = append(seen, in.ID)
		want := infos[len(seen)-1]
		want.WakeAt = 0 // All does not look for the deadlines
		assert.Equal(t, want, in)
	}
	assert.Equal(t, ids[:3], seen)
}

// After and CountAfter agree with the whole listing at every cut: in a
// page of the ID table, at its ends, past the last ID, with holes where
// tasklets were killed.
func TestAfterAndCountAfter(t *testing.T) {
	s := scheduler.New()
	c := s.NewChannel(0)
	var ids []tasklet.ID
	for i := range 1000 {
		id := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c) }))
		ids = append(ids, id)
		if i%3 == 1 {
			require.NoError(t, s.Kill(id, false))
		}
	}
	require.NoError(t, s.Tick())
	all := s.Tasklets()
	require.Len(t, all, 667)
	cuts := []tasklet.ID{0, ids[0] - 1, ids[0], ids[1], ids[254], ids[255], ids[256], ids[600], ids[998], ids[999], ^tasklet.ID(0)}
	for _, cut := range cuts {
		var want []tasklet.ID
		for _, in := range all {
			if in.ID > cut {
				want = append(want, in.ID)
			}
		}
		var got []tasklet.ID
		for in := range s.After(cut) {
			got = append(got, in.ID)
		}
		assert.Equal(t, want, got, "after %v", cut)
		assert.Equal(t, len(want), s.CountAfter(cut), "count after %v", cut)
	}
}
