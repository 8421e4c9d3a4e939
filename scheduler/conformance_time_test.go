package scheduler_test

// Conformance tests of DESIGN.md "Semantics": sleep, the virtual clock and the
// options.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Sleep and the virtual clock

func TestSleepOrder(t *testing.T) {
	s := scheduler.New()
	var l logger
	sleeper := func(name string, d time.Duration) tasklet.Behavior {
		return steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) },
			func(t *tasklet.T) tasklet.Op { l.add("%s@%v", name, t.Now()); return t.Exit() })
	}
	s.Spawn(sleeper("A", 3*time.Second))
	s.Spawn(sleeper("B", time.Second))
	s.Spawn(sleeper("C", 2*time.Second))
	s.Spawn(sleeper("D", 2*time.Second))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"B@1s", "C@2s", "D@2s", "A@3s"}, l.entries)
	assert.Equal(t, 3*time.Second, s.Now(), "Run jumps the virtual clock to each deadline")

	// Equal deadlines fire in the order they were set, whatever the IDs.
	s = scheduler.New()
	l.entries = nil
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Yield() },
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) }, // set second
		func(t *tasklet.T) tasklet.Op { l.add("first-spawned@%v", t.Now()); return t.Exit() }))
	s.Spawn(sleeper("second-spawned", 2*time.Second)) // set first
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"second-spawned@2s", "first-spawned@2s"}, l.entries)
}

func TestSleepWithRunnableTaskletsDoesNotJumpClock(t *testing.T) {
	s := scheduler.New()
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Second) },
		func(t *tasklet.T) tasklet.Op { l.add("sleeper@%v", t.Now()); return t.Exit() }))
	s.Spawn(yieldN(&l, "Y", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"Y0", "Y1", "Y2", "sleeper@1s"}, l.entries)
}

func TestZeroSleepAndTimeout(t *testing.T) {
	// Nothing to wait for: a zero or negative sleep is a yield and a zero
	// timeout fires at once, even while other tasklets keep the run queue
	// busy (on a virtual clock, a due timer would wait for it to empty).
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			var l logger
			s.Spawn(steps(
				logStep(&l, "A:sleep", func(t *tasklet.T) tasklet.Op { return t.Sleep(d) }),
				logStep(&l, "A:select", func(t *tasklet.T) tasklet.Op {
					return t.Select(tasklet.RecvCase(ch), tasklet.TimeoutCase(d))
				}),
				func(t *tasklet.T) tasklet.Op {
					l.add("A:chosen %d at %v", t.Chosen(), t.Now())
					return t.Exit()
				}))
			s.Spawn(yieldN(&l, "B", 3))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, []string{"A:sleep", "B0", "A:select", "A:chosen 1 at 0s", "B1", "B2"}, l.entries)
			assert.Equal(t, 0, s.Balance(ch))
		})
	}
}

// ---------------------------------------------------------------------------
// Options and the clock

func TestWithTimeslice(t *testing.T) {
	var l logger
	s := scheduler.New(scheduler.WithTimeslice(3))
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		l.add("A%d", t.Steps())
		if t.Steps() == 7 {
			return t.Exit()
		}
		return t.Continue()
	}))
	s.Spawn(yieldN(&l, "B", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"A1", "A2", "A3", "B0", "A4", "A5", "A6", "B1", "A7", "B2"}, l.entries,
		"a busy tasklet goes to the back after 3 consecutive steps")
}

func TestWithKindNames(t *testing.T) {
	s := scheduler.New(scheduler.WithKindNames(func(b tasklet.Behavior) string {
		if _, ok := b.(*panicker); ok {
			return "game.Panicker"
		}
		return ""
	}))
	p := s.Spawn(&panicker{At: 1})
	other := s.Spawn(yieldN(new(logger), "x", 1))
	err := s.Run(t.Context())
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, p, te.ID)
	assert.Equal(t, "game.Panicker", te.Kind)
	assert.Equal(t, "scheduler_test.fn", s.KindOf(s.Behavior(other)), "an empty name falls back to the Go type")
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	s := scheduler.New()
	ctx, cancel := context.WithCancel(t.Context())
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1000 {
			cancel()
		}
		return t.Yield() // runs forever
	}))
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op { return t.Yield() })) // and so does this
	assert.ErrorIs(t, s.Run(ctx), context.Canceled)
	assert.Equal(t, 2, s.Len())
}

func TestRealClockSleep(t *testing.T) {
	s := scheduler.New(scheduler.WithClock(scheduler.NewRealClock(time.Hour)))
	var woke time.Duration
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Millisecond) },
		func(t *tasklet.T) tasklet.Op { woke = t.Now(); return t.Exit() }))
	require.NoError(t, s.Run(t.Context()), "Run waits for a real timer")
	assert.GreaterOrEqual(t, woke, time.Hour+2*time.Millisecond)
}

func TestVirtualClock(t *testing.T) {
	c := scheduler.NewVirtualClock(5 * time.Second)
	assert.Equal(t, 5*time.Second, c.Now())
	c.Advance(time.Second)
	assert.Equal(t, 6*time.Second, c.Now())
	c.Set(4 * time.Second)
	assert.Equal(t, 6*time.Second, c.Now(), "Set never moves backwards")
	c.Set(10 * time.Second)
	assert.Equal(t, 10*time.Second, c.Now())
}
