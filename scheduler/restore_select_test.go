package scheduler_test

// Restore checks that every case of a blocked select is queued exactly once.
// Cases below 32 are tracked in the tasklet's scratch mark, the others in a
// map: both halves must refuse a case queued twice or missing.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type selector struct{}

func (selector) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// wideSelect is tasklet 1 blocked in a select receiving on 40 channels,
// each queueing it once.
func wideSelect() *scheduler.World {
	const n = 40
	w := &scheduler.World{NextTasklet: 2, NextChannel: n + 1}
	ts := scheduler.TaskletState{ID: 1, Behavior: selector{}, State: tasklet.Blocked, Chosen: -1}
	for i := range n {
		ch := channel.ID(i + 1)
		ts.Cases = append(ts.Cases, tasklet.RecvCase(ch))
		w.Channels = append(w.Channels, scheduler.ChannelState{ID: ch,
			Receivers: []scheduler.WaiterState{{Tasklet: 1, Case: i}}})
	}
	w.Tasklets = []scheduler.TaskletState{ts}
	return w
}

func TestRestoreChecksEveryCaseOfAWideSelect(t *testing.T) {
	s, err := scheduler.Restore(wideSelect())
	require.NoError(t, err, "every case queued once")
	assert.Equal(t, 1, s.Len())

	tests := []struct {
		name   string
		mutate func(w *scheduler.World)
	}{
		{"low case queued twice", func(w *scheduler.World) {
			w.Channels[3].Receivers = append(w.Channels[3].Receivers, w.Channels[3].Receivers[0])
		}},
		{"high case queued twice", func(w *scheduler.World) {
			w.Channels[35].Receivers = append(w.Channels[35].Receivers, w.Channels[35].Receivers[0])
		}},
		{"low case missing", func(w *scheduler.World) { w.Channels[31].Receivers = nil }},
		{"high case missing", func(w *scheduler.World) { w.Channels[32].Receivers = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := wideSelect()
			tc.mutate(w)
			_, err := scheduler.Restore(w)
			assert.ErrorIs(t, err, scheduler.ErrInvalidRestore)
		})
	}
}
