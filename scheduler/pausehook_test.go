package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The pause hook sees each tasklet whose own step paused it, once per
// pause, already paused; other ops (yield, exit) and a host's Remove do not
// call it. Every way of driving the scheduler calls it.
func TestPauseHookSeesEveryStepThatPauses(t *testing.T) {
	drive := map[string]func(s *scheduler.Scheduler) error{
		"Run": func(s *scheduler.Scheduler) error { return s.Run(t.Context()) },
		"RunBudget": func(s *scheduler.Scheduler) error {
			_, err := s.RunBudget(t.Context(), 1000, scheduler.Total|scheduler.Soft)
			return err
		},
		"Tick": func(s *scheduler.Scheduler) error {
			for range 4 {
				if err := s.Tick(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for name, run := range drive {
		t.Run(name, func(t *testing.T) {
			var s *scheduler.Scheduler
			var seen []tasklet.ID
			var states []tasklet.State
			s = scheduler.New(scheduler.WithPauseHook(func(id tasklet.ID) {
				seen = append(seen, id)
				in, err := s.Info(id)
				require.NoError(t, err)
				states = append(states, in.State)
			}))
			a := s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op { return t.Pause() }))
			b := s.Spawn(steps(yield, yield, exit))
			c := s.Spawn(steps(yield, yield, yield))
			require.NoError(t, s.Remove(c)) // paused by the host (Remove): not its step's Pause
			require.NoError(t, run(s))
			assert.Equal(t, []tasklet.ID{a}, seen)
			assert.Equal(t, []tasklet.State{tasklet.Paused}, states)
			_, err := s.Info(b)
			assert.Error(t, err, "b ran to its exit")

			require.NoError(t, s.Insert(a)) // its next step exits: no second call
			require.NoError(t, run(s))
			assert.Equal(t, []tasklet.ID{a}, seen)
		})
	}
}
