package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// TestPollFeedsAnIdleSchedulerWithoutParking: an idle scheduler whose poll
// function asks to be called again keeps calling it instead of parking,
// and what the function hands over runs; the function sees the slices of
// the run and, once, its end.
func TestPollFeedsAnIdleSchedulerWithoutParking(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	release := s.Hold() // input may come: an empty run queue is a wait
	var modes []scheduler.PollMode
	idle := 0
	s.SetPoll(func(m scheduler.PollMode) bool {
		modes = append(modes, m)
		if m != scheduler.PollIdle {
			return false
		}
		if idle++; idle == 3 {
			s.PostLocal(ch, 42) // what a Remote found in its input
		}
		return idle <= 3 // nothing wakes a parked scheduler here: only the spin feeds it
	})
	var got any
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op { got = t.Value(); release(); return t.Exit() },
	))
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, 42, got)
	require.GreaterOrEqual(t, len(modes), 5)
	assert.Equal(t, []scheduler.PollMode{scheduler.PollBusy, scheduler.PollIdle, scheduler.PollIdle, scheduler.PollIdle},
		modes[:4], "the first slice, then idle polls until one found input")
	assert.Contains(t, modes[4:len(modes)-1], scheduler.PollBusy, "the receiver's slice")
	assert.Equal(t, scheduler.PollStop, modes[len(modes)-1], "the run's end, last")
	for _, m := range modes[:len(modes)-1] {
		assert.NotEqual(t, scheduler.PollStop, m, "the end comes once")
	}
}

// TestPollStopComesOnceForNestedRuns: a run inside a run (a host call
// inside Do, say) does not end the outer one's polling.
func TestPollStopComesOnceForNestedRuns(t *testing.T) {
	s := scheduler.New()
	stops := 0
	s.SetPoll(func(m scheduler.PollMode) bool {
		if m == scheduler.PollStop {
			stops++
		}
		return false
	})
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Yield() }, exit))
	s.Do(func(s *scheduler.Scheduler) {
		_, err := s.RunBudget(context.Background(), 1, scheduler.Total)
		assert.NoError(t, err)
		assert.Zero(t, stops, "the outer run goes on")
	})
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, 1, stops)
	require.NoError(t, s.Tick())
	assert.Equal(t, 2, stops, "a Tick is a run of its own")
}
