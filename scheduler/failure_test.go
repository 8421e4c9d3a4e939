package scheduler_test

// What a panicking hook or error handler leaves behind, and RunCount seen
// from inside a step: issue 8, "Behaviour that differs from Stackless for no
// good reason".

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// runModes are the ways a host drives the scheduler; each must keep the
// world consistent.
var runModes = []struct {
	name string
	run  func(ctx context.Context, s *scheduler.Scheduler) error
}{
	{"Run", func(ctx context.Context, s *scheduler.Scheduler) error { return s.Run(ctx) }},
	{"RunBudget", func(ctx context.Context, s *scheduler.Scheduler) error {
		_, err := s.RunBudget(ctx, 100, scheduler.Timeslice)
		return err
	}},
	{"Tick", func(_ context.Context, s *scheduler.Scheduler) error {
		for s.Len() > 0 {
			if err := s.Tick(); err != nil {
				return err
			}
		}
		return nil
	}},
}

// recoverRun runs fn and returns what it panicked with (nil if it did not).
func recoverRun(fn func()) (r any) {
	defer func() { r = recover() }()
	fn()
	return nil
}

func TestScheduleHookPanicKeepsTheTasklet(t *testing.T) {
	for _, mode := range runModes {
		t.Run(mode.name, func(t *testing.T) {
			panicked := false
			s := scheduler.New(scheduler.WithScheduleHook(func(prev, next tasklet.ID) {
				if !panicked {
					panicked = true
					panic("hook boom")
				}
			}))
			var l logger
			a := s.Spawn(yieldN(&l, "a", 3))

			var err error
			r := recoverRun(func() { err = mode.run(t.Context(), s) })
			require.Nil(t, r, "the hook's panic does not escape")
			require.ErrorIs(t, err, scheduler.ErrHookPanic)
			var he *scheduler.HookError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, "schedule", he.Hook)
			assert.Equal(t, a, he.Next)
			assert.Equal(t, "hook boom", he.Panic)
			assert.Contains(t, err.Error(), "hook boom")

			// The tasklet was not lost: it is runnable, or finished after
			// running its steps.
			if s.Len() == 1 {
				in, ierr := s.Info(a)
				require.NoError(t, ierr)
				assert.Equal(t, tasklet.Runnable, in.State)
				assert.Equal(t, []tasklet.ID{a}, s.RunQueue())
			}
			require.NoError(t, mode.run(t.Context(), s))
			assert.Equal(t, []string{"a0", "a1", "a2"}, l.entries, "a second run runs it to completion")
			assert.Zero(t, s.Len())
		})
	}
}

func TestScheduleHookPanicGoesToErrorHandler(t *testing.T) {
	var handled []error
	n := 0
	s := scheduler.New(
		scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }),
		scheduler.WithScheduleHook(func(prev, next tasklet.ID) {
			n++
			if n%2 == 0 {
				panic(fmt.Sprintf("switch %d", n))
			}
		}))
	var l logger
	s.Spawn(yieldN(&l, "a", 2))
	s.Spawn(yieldN(&l, "b", 2))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"a0", "b0", "a1", "b1"}, l.entries, "every switch went on")
	require.Len(t, handled, 3, "switches 2, 4 and 6 of 6 panicked")
	for _, err := range handled {
		assert.ErrorIs(t, err, scheduler.ErrHookPanic)
	}
}

func TestErrorHandlerPanicLeavesRun(t *testing.T) {
	for _, mode := range runModes {
		t.Run(mode.name, func(t *testing.T) {
			var calls []error
			s := scheduler.New(scheduler.WithErrorHandler(func(err error) {
				calls = append(calls, err)
				panic(fmt.Sprintf("handler: %v", err))
			}))
			var l logger
			failer := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
			s.Spawn(yieldN(&l, "b", 3))

			r := recoverRun(func() { _ = mode.run(t.Context(), s) })
			require.NotNil(t, r, "the handler's panic leaves the run")
			assert.Contains(t, fmt.Sprint(r), "boom")
			require.Len(t, calls, 1, "the handler is called once")
			assert.ErrorIs(t, calls[0], errBoom)
			assert.ErrorIs(t, calls[0], scheduler.ErrTaskletFailed)
			assert.NotErrorIs(t, calls[0], scheduler.ErrTaskletPanic, "the tasklet failed, it did not panic")
			var te *scheduler.TaskletError
			require.ErrorAs(t, calls[0], &te)
			assert.Equal(t, failer, te.ID)

			// The world is consistent: the failed tasklet is gone, the other
			// one is runnable and runs on.
			_, err := s.Info(failer)
			assert.ErrorIs(t, err, scheduler.ErrDead)
			s.SetErrorHandler(nil)
			require.NoError(t, mode.run(t.Context(), s))
			assert.Equal(t, []string{"b0", "b1", "b2"}, l.entries)
			assert.Zero(t, s.Len())
			assert.Len(t, calls, 1)
		})
	}
}

func TestErrorHandlerPanicKeepsLaterFailures(t *testing.T) {
	var calls []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) {
		calls = append(calls, err)
		if len(calls) == 1 {
			panic("first")
		}
	}))
	errA, errB := fmt.Errorf("a"), fmt.Errorf("b")
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Fail(errA) }))
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Fail(errB) }))
	require.NotNil(t, recoverRun(func() { _ = s.Tick() }))
	require.Len(t, calls, 1)
	assert.ErrorIs(t, calls[0], errA)
	require.NoError(t, s.Tick())
	require.Len(t, calls, 2, "the failure not yet handed over comes with the next call")
	assert.ErrorIs(t, calls[1], errB)
}

func TestRunCountCountsTheRunningTasklet(t *testing.T) {
	tests := []struct {
		name   string
		others int
	}{
		{"alone", 0},
		{"with two others", 2},
	}
	for _, tc := range tests {
		for _, mode := range runModes {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				s := scheduler.New()
				seen := -1
				s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
					seen = s.RunCount()
					return t.Exit()
				}))
				for range tc.others {
					s.Spawn(yieldN(new(logger), "x", 3))
				}
				assert.Equal(t, 1+tc.others, s.RunCount(), "between runs: the run queue")
				require.NoError(t, mode.run(t.Context(), s))
				assert.Equal(t, 1+tc.others, seen, "inside a step the running tasklet counts")
				assert.Zero(t, s.RunCount())
			})
		}
	}
}

func TestHostCallReportsBeforeReturning(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	ch := s.NewChannel(0)
	s.Post(ch, "lost")
	s.Drain() // the posted value waits in ch as a sender
	require.Empty(t, handled)
	require.NoError(t, s.Close(ch))
	require.Len(t, handled, 1, "a failure a host call causes outside a run reaches the handler before the call returns")
	assert.Contains(t, handled[0].Error(), "lost")
	s.PostLocal(ch, "late")
	assert.Len(t, handled, 2)
}
