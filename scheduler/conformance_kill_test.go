package scheduler_test

// Conformance tests of DESIGN.md "Semantics": Kill and Throw, the life cycle,
// panics and the error handler.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Kill and Throw

func TestKillImmediateVsPending(t *testing.T) {
	tests := []struct {
		name    string
		pending bool
		want    []string
	}{
		// immediate: V runs before the caller's next step and before X
		{"immediate", false, []string{"K:kill", "V:tasklet killed", "X", "K:after"}},
		// pending: V just becomes runnable and runs in queue order
		{"pending", true, []string{"K:kill", "X", "V:tasklet killed", "K:after"}},
	}
	for _, tc := range tests {
		t.Run("from a step/"+tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			var l logger
			var v tasklet.ID
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					l.add("K:kill")
					require.NoError(tt, t.Host().Kill(v, tc.pending))
					return t.Yield()
				},
				logStep(&l, "K:after", exit)))
			s.Spawn(steps(logStep(&l, "X", exit)))
			ch := s.NewChannel(0)
			v = s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			// Let V block first, so the kill also unblocks it.
			s.Channel(ch) // exists
			require.NoError(t, s.Remove(v))
			require.NoError(t, s.Insert(v)) // V still at the back of the queue
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
		})
	}
	for _, tc := range []struct {
		name    string
		pending bool
		want    []string
	}{
		{"immediate", false, []string{"V:tasklet killed", "A", "B"}},
		{"pending", true, []string{"A", "B", "V:tasklet killed"}},
	} {
		t.Run("from the host/"+tc.name, func(t *testing.T) {
			s := scheduler.New()
			var l logger
			s.Spawn(steps(logStep(&l, "A", exit)))
			s.Spawn(steps(logStep(&l, "B", exit)))
			ch := s.NewChannel(0)
			v := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			require.NoError(t, s.Kill(v, tc.pending))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
		})
	}
}

func TestKillBlockedTasklet(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%t", pending), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			var seen error
			v := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if t.Steps() == 1 {
					return t.Recv(ch)
				}
				seen = t.Err()
				return t.Exit()
			}))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			require.Equal(t, -1, s.Balance(ch))
			require.NoError(t, s.Kill(v, pending))
			assert.Equal(t, 0, s.Balance(ch), "the kill unblocks it: balance moves back to 0")
			info, err := s.Info(v)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Runnable, info.State)
			require.NoError(t, s.Run(t.Context()))
			assert.ErrorIs(t, seen, tasklet.ErrKilled)
			// A later sender must not find the killed receiver.
			s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, 1, s.Balance(ch))
		})
	}
}

func TestKillSleepingTasklet(t *testing.T) {
	tt := t
	s := scheduler.New()
	var l logger
	v := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Sleep(10 * time.Second)
		}
		if errors.Is(t.Err(), tasklet.ErrKilled) {
			l.add("killed@%v", t.Now())
			return t.Sleep(time.Second)
		}
		l.add("woke@%v", t.Now())
		return t.Exit()
	}))
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) },
		func(t *tasklet.T) tasklet.Op {
			require.NoError(tt, t.Host().Kill(v, false))
			return t.Exit()
		}))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"killed@2s", "woke@3s"}, l.entries, "the old 10s timer is stale")
	assert.Equal(t, 3*time.Second, s.Now())
}

func TestKillSurviveOrDie(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	var l logger
	survivor := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
		if errors.Is(t.Err(), tasklet.ErrKilled) {
			l.add("survivor caught the kill")
			return t.Yield()
		}
		if t.Steps() >= 3 {
			l.add("survivor exits at step %d", t.Steps())
			return t.Exit()
		}
		return t.Yield()
	}))
	ignorer := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
		l.add("ignorer step %d", t.Steps())
		return t.Yield()
	}))
	require.NoError(t, s.Kill(survivor, true))
	require.NoError(t, s.Kill(ignorer, true))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{
		"survivor caught the kill",
		"ignorer step 1", // the step runs; its result is discarded and it ends
		"survivor exits at step 3",
	}, l.entries)
	assert.Empty(t, handled, "a kill that is not handled ends the tasklet silently")
	_, err := s.Info(ignorer)
	assert.ErrorIs(t, err, scheduler.ErrDead)
	assert.NoError(t, s.Kill(ignorer, false), "killing a dead tasklet is a no-op")
	assert.NoError(t, s.Kill(ignorer, true))
	assert.ErrorIs(t, s.Throw(ignorer, errBoom, false), scheduler.ErrDead)
	assert.ErrorIs(t, s.Kill(tasklet.ID(999), false), scheduler.ErrNoTasklet)
}

func TestThrowUnhandled(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%t/Run", pending), func(t *testing.T) {
			s := scheduler.New()
			v := s.Spawn(yieldN(new(logger), "v", 5))
			require.NoError(t, s.Tick())
			require.NoError(t, s.Throw(v, errBoom, pending))
			err := s.Run(t.Context())
			var te *scheduler.TaskletError
			require.ErrorAs(t, err, &te)
			assert.ErrorIs(t, err, errBoom)
			assert.Equal(t, v, te.ID)
			assert.Equal(t, "scheduler_test.fn", te.Kind)
			assert.Equal(t, uint64(2), te.Step)
			assert.Nil(t, te.Panic)
			assert.Contains(t, err.Error(), v.String())
			assert.Contains(t, err.Error(), "step 2")
			assert.Contains(t, err.Error(), "boom")
		})
	}
	t.Run("error handler", func(t *testing.T) {
		tt := t
		var handled []error
		s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
		v := s.Spawn(yieldN(new(logger), "v", 5))
		other := 0
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			other++
			if other == 1 {
				require.NoError(tt, t.Host().Throw(v, errBoom, false))
			}
			if other == 4 {
				return t.Exit()
			}
			return t.Yield()
		}))
		require.NoError(t, s.Run(t.Context()))
		require.Len(t, handled, 1)
		var te *scheduler.TaskletError
		require.ErrorAs(t, handled[0], &te)
		assert.Equal(t, v, te.ID)
		assert.ErrorIs(t, te, errBoom)
		assert.Equal(t, 4, other, "the scheduler went on")
	})
	t.Run("into the running tasklet", func(t *testing.T) {
		s := scheduler.New()
		var err error
		self := tasklet.ID(0)
		self = s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
			err = t.Host().Throw(self, errBoom, false)
			return t.Exit()
		}))
		require.NoError(t, s.Run(t.Context()))
		assert.ErrorIs(t, err, scheduler.ErrCurrent)
	})
}

func TestKillTwiceFromOneStep(t *testing.T) {
	tt := t
	// Two immediate kills from one step: both targets run, each exactly
	// once, in the order they were killed, before the caller's next step.
	s := scheduler.New()
	var l logger
	target := func(name string) tasklet.Behavior {
		return fn(func(t *tasklet.T) tasklet.Op {
			if err := t.Err(); err != nil {
				l.add("%s:%v", name, err)
				return t.Exit()
			}
			return t.Yield()
		})
	}
	var a, b tasklet.ID
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			require.NoError(tt, t.Host().Kill(a, false))
			require.NoError(tt, t.Host().Kill(b, false))
			require.NoError(tt, t.Host().Kill(a, false)) // again: still one wake
			return t.Continue()
		},
		logStep(&l, "K:after", exit)))
	a = s.Spawn(target("A"))
	b = s.Spawn(target("B"))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"A:tasklet killed", "B:tasklet killed", "K:after"}, l.entries)
}

func TestKillFromAStepThatDies(t *testing.T) {
	// K ignores the kill delivered to it, so its step ends it; in that same
	// step it kills V immediately. V must still run.
	for _, via := range []string{"Run", "Tick"} {
		t.Run(via, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			var l logger
			var v tasklet.ID
			k := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				require.NoError(tt, t.Host().Kill(v, false))
				return t.Yield()
			}))
			v = s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Yield()
			}))
			require.NoError(t, s.Kill(k, false))
			if via == "Run" {
				require.NoError(t, s.Run(t.Context()))
			} else {
				require.NoError(t, s.Tick())
			}
			assert.Equal(t, []string{"V:tasklet killed"}, l.entries)
			assert.Zero(t, s.Len())
		})
	}
}

// ---------------------------------------------------------------------------
// Life cycle

func TestLifeCycle(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	state := func(id tasklet.ID) tasklet.State {
		info, err := s.Info(id)
		if err != nil {
			return tasklet.Dead
		}
		return info.State
	}

	p := s.SpawnPaused(yieldN(new(logger), "p", 1))
	assert.Equal(t, tasklet.Paused, state(p), "SpawnPaused")
	require.NoError(t, s.Insert(p))
	assert.Equal(t, tasklet.Runnable, state(p), "Insert")
	require.NoError(t, s.Insert(p), "Insert of a runnable tasklet is a no-op")
	assert.Equal(t, []tasklet.ID{p}, s.RunQueue(), "and does not queue it twice")
	require.NoError(t, s.Remove(p))
	assert.Equal(t, tasklet.Paused, state(p), "Remove")
	require.NoError(t, s.Remove(p), "Remove of a paused tasklet is a no-op")
	assert.Empty(t, s.RunQueue())

	b := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	sl := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Hour) }))
	ps := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Pause() }))
	require.NoError(t, s.Tick())
	assert.Equal(t, tasklet.Blocked, state(b))
	assert.Equal(t, tasklet.Sleeping, state(sl))
	assert.Equal(t, tasklet.Paused, state(ps), "t.Pause()")

	for _, id := range []tasklet.ID{b, sl} {
		assert.ErrorIs(t, s.Insert(id), scheduler.ErrBlocked, "Insert of a waiting tasklet")
		assert.ErrorIs(t, s.Remove(id), scheduler.ErrBlocked, "Remove of a waiting tasklet")
	}

	require.NoError(t, s.Insert(p))
	require.NoError(t, s.Insert(ps))
	require.NoError(t, s.Kill(b, false))
	require.NoError(t, s.Kill(sl, false))
	require.NoError(t, s.Run(t.Context()))
	for _, id := range []tasklet.ID{p, b, sl, ps} {
		assert.Equal(t, tasklet.Dead, state(id))
		_, err := s.Info(id)
		assert.ErrorIs(t, err, scheduler.ErrDead)
		assert.ErrorIs(t, s.Insert(id), scheduler.ErrDead)
		assert.ErrorIs(t, s.Remove(id), scheduler.ErrDead)
		assert.ErrorIs(t, s.Throw(id, errBoom, false), scheduler.ErrDead)
		assert.NoError(t, s.Kill(id, false))
		assert.Nil(t, s.Behavior(id))
	}
	_, err := s.Info(tasklet.ID(12345))
	assert.ErrorIs(t, err, scheduler.ErrNoTasklet, "an ID never handed out")
	assert.Zero(t, s.Len())
}

func TestAdoptAndRelease(t *testing.T) {
	s := scheduler.New(scheduler.WithNode(1))
	other := scheduler.New(scheduler.WithNode(7))
	rec, err := other.Release(other.SpawnPaused(yieldN(new(logger), "m", 2)))
	require.NoError(t, err)
	require.Equal(t, uint16(7), rec.ID().Node())
	require.NoError(t, s.Adopt(rec))
	info, err := s.Info(rec.ID())
	require.NoError(t, err)
	assert.Equal(t, tasklet.Paused, info.State)
	assert.Error(t, s.Adopt(rec), "the ID exists already")

	r := s.Spawn(yieldN(new(logger), "r", 1))
	_, err = s.Release(r)
	assert.Error(t, err, "a runnable tasklet cannot leave")
	got, err := s.Release(rec.ID())
	require.NoError(t, err)
	assert.Same(t, rec, got)
	_, err = s.Info(rec.ID())
	assert.ErrorIs(t, err, scheduler.ErrNoTasklet, "an ID of another node is unknown here")
	assert.Equal(t, uint16(1), r.Node())
}

// ---------------------------------------------------------------------------
// Failures: panics and the error handler

func TestPanicKillsOnlyItsTasklet(t *testing.T) {
	s := scheduler.New()
	var l logger
	p := s.Spawn(&panicker{At: 2})
	s.Spawn(yieldN(&l, "B", 5))
	err := s.Run(t.Context())
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, scheduler.ErrTaskletPanic)
	assert.Equal(t, p, te.ID)
	assert.Equal(t, "*scheduler_test.panicker", te.Kind)
	assert.Equal(t, uint64(2), te.Step)
	assert.Equal(t, "kaboom", te.Panic)
	assert.Contains(t, te.Stack, "panicker")
	assert.Contains(t, err.Error(), "panicked in step 2: kaboom")
	_, ierr := s.Info(p)
	assert.ErrorIs(t, ierr, scheduler.ErrDead)

	require.NoError(t, s.Run(t.Context()), "the other tasklets keep running")
	assert.Equal(t, []string{"B0", "B1", "B2", "B3", "B4"}, l.entries)
	assert.Zero(t, s.Len())
}

func TestPanicInTick(t *testing.T) {
	s := scheduler.New()
	var l logger
	s.Spawn(&panicker{At: 1})
	s.Spawn(yieldN(&l, "B", 3))
	err := s.Tick()
	assert.ErrorIs(t, err, scheduler.ErrTaskletPanic)
	assert.Equal(t, []string{"B0"}, l.entries, "the rest of the tick ran")
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"B0", "B1"}, l.entries)
}

func TestErrorHandler(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	var l logger
	pan := s.Spawn(&panicker{At: 1})
	failer := s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	s.Spawn(yieldN(&l, "B", 4))
	require.NoError(t, s.Run(t.Context()), "with a handler, Run does not return failures")
	assert.Equal(t, []string{"B0", "B1", "B2", "B3"}, l.entries)
	require.Len(t, handled, 2)
	var te *scheduler.TaskletError
	require.ErrorAs(t, handled[0], &te)
	assert.Equal(t, pan, te.ID)
	assert.ErrorIs(t, handled[0], scheduler.ErrTaskletPanic)
	require.ErrorAs(t, handled[1], &te)
	assert.Equal(t, failer, te.ID)
	assert.Equal(t, uint64(2), te.Step)
	assert.ErrorIs(t, handled[1], errBoom)
	assert.ErrorIs(t, handled[1], scheduler.ErrTaskletFailed)

	old := s.SetErrorHandler(nil)
	require.NotNil(t, old)
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	assert.ErrorIs(t, s.Run(t.Context()), errBoom, "without a handler Run returns it")
	assert.Len(t, handled, 2)
}

func TestSeveralFailuresAreJoined(t *testing.T) {
	tt := t
	s := scheduler.New()
	errA, errB := errors.New("a"), errors.New("b")
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		require.NoError(tt, t.Host().Throw(t.ID()+1, errA, true))
		require.NoError(tt, t.Host().Throw(t.ID()+2, errB, true))
		return t.Exit()
	}))
	s.Spawn(yieldN(new(logger), "x", 3))
	s.Spawn(yieldN(new(logger), "y", 3))
	err := s.Tick()
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
}
