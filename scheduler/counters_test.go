package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// TestCountersForObservers checks the counters /metrics exports: a
// ping-pong of n values is 2n channel operations (each value one send and
// one receive), every turn of a tasklet one switch, and blocked tasklets
// and timers are counted as they are.
func TestCountersForObservers(t *testing.T) {
	const n = 50
	for _, tc := range []struct {
		name string
		run  func(*scheduler.Scheduler) error
	}{
		{"run", func(s *scheduler.Scheduler) error { return s.Run(t.Context()) }},
		{"run under a budget", func(s *scheduler.Scheduler) error {
			_, err := s.RunBudget(t.Context(), 1_000_000, scheduler.Timeslice)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			sent, got := 0, 0
			s.Spawn(fn(func(tk *tasklet.T) tasklet.Op {
				if sent == n {
					return tk.Exit()
				}
				sent++
				return tk.Send(ch, sent)
			}))
			first := true
			s.Spawn(fn(func(tk *tasklet.T) tasklet.Op {
				if !first {
					got++
				}
				first = false
				if got == n {
					return tk.Exit()
				}
				return tk.Recv(ch)
			}))
			require.Zero(t, s.ChannelOps(), "nothing ran yet")
			require.NoError(t, tc.run(s))
			require.Equal(t, n, got, "every value arrived")
			assert.EqualValues(t, 2*n, s.ChannelOps(), "one send and one receive per value")
			// Each value hands the turn over twice (the receiver runs at
			// once, then the sender again), and the ends add a few.
			assert.GreaterOrEqual(t, s.Switches(), uint64(2*n), "switches")
			assert.LessOrEqual(t, s.Switches(), s.Steps(), "a switch runs at least one step")
		})
	}
}

func TestBlockedAndTimerCounts(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Spawn(fn(func(tk *tasklet.T) tasklet.Op { return tk.Recv(ch) }))
	s.Spawn(fn(func(tk *tasklet.T) tasklet.Op { return tk.Recv(ch) }))
	s.Spawn(fn(func(tk *tasklet.T) tasklet.Op { return tk.Sleep(time.Hour) }))
	s.Spawn(fn(func(tk *tasklet.T) tasklet.Op { return tk.Yield() }))
	assert.Zero(t, s.Blocked(), "all runnable before they ran")
	require.NoError(t, s.Tick())
	assert.Equal(t, 3, s.Blocked(), "two receivers and a sleeper wait; the yielder is runnable")
	assert.Equal(t, 1, s.TimerCount(), "the sleeper's timer")
	assert.EqualValues(t, 2, s.ChannelOps(), "two receives")
	assert.EqualValues(t, 4, s.Switches(), "a tick switches every runnable tasklet in once")
}
