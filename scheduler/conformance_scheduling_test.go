package scheduler_test

// Conformance tests of DESIGN.md "Semantics": the run queue, Tick and deadlock.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Run queue

func TestRunQueueOrder(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *scheduler.Scheduler, l *logger)
		want  []string
	}{
		{
			name: "strict round robin",
			setup: func(s *scheduler.Scheduler, l *logger) {
				s.Spawn(yieldN(l, "A", 3))
				s.Spawn(yieldN(l, "B", 3))
				s.Spawn(yieldN(l, "C", 3))
			},
			want: []string{"A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2"},
		},
		{
			name: "spawn from a step appends at the back",
			setup: func(s *scheduler.Scheduler, l *logger) {
				a := yieldN(l, "A", 3)
				first := true
				s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
					if first {
						first = false
						t.Spawn(yieldN(l, "D", 3))
					}
					return a.Step(t)
				}))
				s.Spawn(yieldN(l, "B", 3))
				s.Spawn(yieldN(l, "C", 3))
			},
			want: []string{"A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "A2", "B2", "C2", "D2"},
		},
		{
			name: "yield goes to the back, continue keeps running",
			setup: func(s *scheduler.Scheduler, l *logger) {
				s.Spawn(steps(
					logStep(l, "A1", func(t *tasklet.T) tasklet.Op { return t.Continue() }),
					logStep(l, "A2", yield),
					logStep(l, "A3", exit)))
				s.Spawn(steps(logStep(l, "B1", yield), logStep(l, "B2", exit)))
			},
			want: []string{"A1", "A2", "B1", "A3", "B2"},
		},
		{
			name: "insert of a paused tasklet appends at the back",
			setup: func(s *scheduler.Scheduler, l *logger) {
				p := s.SpawnPaused(yieldN(l, "P", 2))
				s.Spawn(yieldN(l, "A", 2))
				s.Spawn(yieldN(l, "B", 2))
				if err := s.Insert(p); err != nil {
					panic(err)
				}
			},
			want: []string{"A0", "B0", "P0", "A1", "B1", "P1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l logger
			s := scheduler.New()
			tc.setup(s, &l)
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
			assert.Zero(t, s.Len())
		})
	}
}

func TestRunQueueIntrospectionOrder(t *testing.T) {
	s := scheduler.New()
	var l logger
	a := s.Spawn(yieldN(&l, "A", 1))
	b := s.Spawn(yieldN(&l, "B", 1))
	c := s.Spawn(yieldN(&l, "C", 1))
	assert.Equal(t, []tasklet.ID{a, b, c}, s.RunQueue())
	assert.Equal(t, 3, s.RunCount())
	require.NoError(t, s.Remove(b))
	assert.Equal(t, []tasklet.ID{a, c}, s.RunQueue())
	require.NoError(t, s.Insert(b))
	assert.Equal(t, []tasklet.ID{a, c, b}, s.RunQueue())
}

// A sender that handed its value to a waiting receiver waits in the run
// queue while the receiver runs (the scheduler keeps it apart from the
// queue's ring then): the receiver's step lists it, queues a spawn and a
// tasklet thrown into at the front around it, removes it and puts it back.
func TestSenderQueuedWhileItsReceiverRuns(t *testing.T) {
	for _, depthFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("depthFirst=%v", depthFirst), func(t *testing.T) {
			var opts []scheduler.Option
			if depthFirst {
				opts = append(opts, scheduler.WithDepthFirst())
			}
			s := scheduler.New(opts...)
			ch := s.NewChannel(0)
			var l logger
			var sender, spawned tasklet.ID
			var seen [][]tasklet.ID
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
				func(t *tasklet.T) tasklet.Op {
					seen = append(seen, s.RunQueue())
					spawned = s.Spawn(steps(logStep(&l, "X", exit)))
					seen = append(seen, s.RunQueue())
					if err := s.Remove(sender); err != nil {
						panic(err)
					}
					seen = append(seen, s.RunQueue())
					if err := s.Insert(sender); err != nil {
						panic(err)
					}
					seen = append(seen, s.RunQueue())
					l.add("R got %v", t.Value())
					return t.Exit()
				}))
			sender = s.Spawn(steps(
				logStep(&l, "S send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }),
				logStep(&l, "S after", exit)))
			require.NoError(t, s.Run(t.Context()))
			want := [][]tasklet.ID{{sender}, {sender, spawned}, {spawned}, {spawned, sender}}
			order := []string{"S send", "R got 1", "X", "S after"}
			if depthFirst { // a spawn goes to the front
				want[1] = []tasklet.ID{spawned, sender}
			}
			assert.Equal(t, want, seen)
			assert.Equal(t, order, l.entries)
			assert.Zero(t, s.Len())
		})
	}
}

// ---------------------------------------------------------------------------
// Tick

func TestTickOneStepPerTasklet(t *testing.T) {
	s := scheduler.New()
	var l logger
	busy := func(name string) tasklet.Behavior {
		return fn(func(t *tasklet.T) tasklet.Op {
			l.add("%s%d", name, t.Steps())
			return t.Continue()
		})
	}
	s.Spawn(busy("A"))
	s.Spawn(yieldN(&l, "Y", 10))
	s.Spawn(busy("B"))
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"A1", "Y0", "B1"}, l.entries)
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"A1", "Y0", "B1", "A2", "Y1", "B2"}, l.entries)
	assert.Equal(t, 3, s.RunCount())
}

func TestTickRunsWokenTaskletsThatHaveNotStepped(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var l logger
	s.Spawn(steps(
		logStep(&l, "R:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
		func(t *tasklet.T) tasklet.Op { l.add("R:got %v", t.Value()); return t.Exit() }))
	require.NoError(t, s.Tick())
	require.Equal(t, []string{"R:recv"}, l.entries)

	// Tick 2: S wakes R, which has not stepped in this tick, so R runs in it.
	s.Spawn(steps(
		logStep(&l, "S:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }),
		logStep(&l, "S:after", exit)))
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"S:send", "R:got 1"}, l.entries)
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"S:after"}, l.entries)

	// A tasklet woken after it already stepped in the tick waits for the next.
	s.Spawn(steps(
		logStep(&l, "R2:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
		func(t *tasklet.T) tasklet.Op { l.add("R2:got %v", t.Value()); return t.Exit() }))
	s.Spawn(steps(logStep(&l, "S2:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 2) }), exit))
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"R2:recv", "S2:send"}, l.entries)
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"R2:got 2"}, l.entries)
}

func TestTickKillOrRemoveOfSteppedTasklet(t *testing.T) {
	// A has already stepped in the tick when R, woken in the same tick,
	// kills or removes it: A must be neither lost nor queued twice.
	for _, tc := range []struct {
		name  string
		act   func(s *scheduler.Scheduler, a tasklet.ID) error
		state tasklet.State
		queue bool
	}{
		{"kill", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Kill(a, false) }, tasklet.Runnable, true},
		{"kill pending", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Kill(a, true) }, tasklet.Runnable, true},
		{"remove", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Remove(a) }, tasklet.Paused, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			ch := s.NewChannel(0)
			s.Channel(ch).SetPreference(channel.PreferSender)
			var l logger
			var a tasklet.ID
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
				func(t *tasklet.T) tasklet.Op {
					require.NoError(tt, tc.act(s, a))
					return t.Exit()
				}))
			require.NoError(t, s.Tick()) // R blocks
			a = s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("A:%v", err)
					return t.Exit()
				}
				l.add("A%d", t.Steps())
				return t.Yield()
			}))
			s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }, exit))
			require.NoError(t, s.Tick())
			require.Equal(t, []string{"A1"}, l.entries)
			info, err := s.Info(a)
			require.NoError(t, err)
			assert.Equal(t, tc.state, info.State)
			n := 0
			for _, id := range s.RunQueue() {
				if id == a {
					n++
				}
			}
			if tc.queue {
				assert.Equal(t, 1, n, "queued exactly once")
			} else {
				assert.Zero(t, n, "a removed tasklet is not queued")
			}
			for range 3 {
				require.NoError(t, s.Tick())
			}
			if tc.queue {
				assert.Equal(t, []string{"A1", "A:tasklet killed"}, l.entries)
			} else {
				assert.Equal(t, []string{"A1"}, l.entries, "a paused tasklet does not run")
			}
		})
	}
}

func TestWorldDuringTick(t *testing.T) {
	// A Do that runs between two steps of a Tick sees every runnable
	// tasklet, including those that already stepped in the tick, and its
	// World restores.
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Channel(ch).SetPreference(channel.PreferSender)
	var w *scheduler.World
	var queue []tasklet.ID
	var count int
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op {
			s.Do(func(s *scheduler.Scheduler) { w, queue, count = s.World(), s.RunQueue(), s.RunCount() })
			return t.Yield()
		}, exit))
	require.NoError(t, s.Tick()) // R blocks
	a := s.Spawn(yieldN(new(logger), "A", 3))
	snd := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }, exit))
	require.NoError(t, s.Tick()) // A steps; S wakes R, which runs after A and posts the Do
	require.NotNil(t, w)
	assert.Equal(t, []tasklet.ID{snd, 1, a}, queue, "A already stepped: it comes last")
	assert.Equal(t, 3, count)
	_, err := scheduler.Restore(w)
	assert.NoError(t, err)
}

func TestTickFiresDueTimersOnly(t *testing.T) {
	clock := scheduler.NewVirtualClock(0)
	s := scheduler.New(scheduler.WithClock(clock))
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Second) },
		func(t *tasklet.T) tasklet.Op { l.add("woke@%v", t.Now()); return t.Exit() }))
	require.NoError(t, s.Tick())
	require.NoError(t, s.Tick())
	assert.Empty(t, l.entries, "Tick never jumps the clock")
	assert.Equal(t, time.Duration(0), s.Now())
	clock.Advance(time.Second)
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"woke@1s"}, l.entries)
}

// ---------------------------------------------------------------------------
// Deadlock

func TestDeadlock(t *testing.T) {
	s := scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(0), s.NewChannel(0)
	r := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c1) }))
	snd := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(c2, 1) }))
	sel := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(c1), tasklet.SendCase(c3, 2))
	}))
	s.Spawn(yieldN(new(logger), "free", 2)) // finishes: not part of the deadlock
	err := s.Run(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, scheduler.ErrDeadlock)
	var de *scheduler.DeadlockError
	require.ErrorAs(t, err, &de)
	require.Len(t, de.Blocked, 3)
	want := []scheduler.Waiting{
		{ID: r, Op: "receiving", Chans: []channel.ID{c1}},
		{ID: snd, Op: "sending", Chans: []channel.ID{c2}},
		{ID: sel, Op: "selecting", Chans: []channel.ID{c1, c3}},
	}
	for i, w := range want {
		assert.Equal(t, w.ID, de.Blocked[i].ID)
		assert.Equal(t, w.Op, de.Blocked[i].Op)
		assert.Equal(t, w.Chans, de.Blocked[i].Chans)
		assert.NotEmpty(t, de.Blocked[i].Kind)
	}
	msg := err.Error()
	for _, part := range []string{"deadlock", r.String(), snd.String(), sel.String(), c1.String(), c2.String(), c3.String(),
		"receiving", "sending", "selecting"} {
		assert.Contains(t, msg, part)
	}
	assert.Contains(t, msg, fmt.Sprintf("%v (%s) receiving on %v", r, de.Blocked[0].Kind, c1))
}

func TestNoDeadlockWhenOnlyPausedOrFinished(t *testing.T) {
	s := scheduler.New()
	s.SpawnPaused(yieldN(new(logger), "p", 1))
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Pause() }))
	require.NoError(t, s.Run(t.Context()), "paused tasklets are not blocked")
	assert.Equal(t, 2, s.Len())
}

// A run queue longer than its ring (ringMax, 8,192) keeps round robin: the
// introspection lists it in order, Remove and Insert work on the part past
// the ring, and two rounds of yields run every tasklet in that order.
func TestRunQueueOrderOfABigWorld(t *testing.T) {
	const n = 20_000
	s := scheduler.New()
	var order []int
	ids := make([]tasklet.ID, n)
	for i := range ids {
		ids[i] = s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			order = append(order, i)
			if t.Steps() == 2 {
				return t.Exit()
			}
			return t.Yield()
		}))
	}
	require.Equal(t, ids, s.RunQueue())
	assert.Equal(t, n, s.RunCount())

	far, near := ids[15_000], ids[10]
	require.NoError(t, s.Remove(far))
	require.NoError(t, s.Remove(near))
	want := slices.Concat(ids[:10], ids[11:15_000], ids[15_001:])
	require.Equal(t, want, s.RunQueue())
	require.NoError(t, s.Insert(far))
	want = append(want, far)
	require.Equal(t, want, s.RunQueue())

	require.NoError(t, s.Run(context.Background())) // near stays removed: paused, not run
	index := make(map[tasklet.ID]int, n)
	for i, id := range ids {
		index[id] = i
	}
	var round []int
	for _, id := range want {
		round = append(round, index[id])
	}
	assert.Equal(t, slices.Concat(round, round), order)
}

// Tick steps each tasklet of a run queue longer than its ring once, in
// order.
func TestTickOfABigWorld(t *testing.T) {
	const n = 20_000
	s := scheduler.New()
	var order []int
	for i := range n {
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			order = append(order, i)
			return t.Yield()
		}))
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.NoError(t, s.Tick())
	require.Equal(t, want, order)
	require.NoError(t, s.Tick())
	assert.Equal(t, slices.Concat(want, want), order)
	assert.Equal(t, n, s.RunCount())
}
