package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// script is a behavior that runs its i-th op at its i-th step, then waits
// on its last one forever; a pointer, so worlds compare by identity.
type script struct {
	ops []func(t *tasklet.T) tasklet.Op
	i   int
}

func (s *script) Step(t *tasklet.T) tasklet.Op {
	op := s.ops[min(s.i, len(s.ops)-1)]
	s.i++
	return op(t)
}

func run(ops ...func(t *tasklet.T) tasklet.Op) *script { return &script{ops: ops} }

// viewed reads every tasklet and channel of v, copying what the reader reuses.
func viewed(t *testing.T, v *scheduler.WorldView) ([]scheduler.TaskletState, []scheduler.ChannelState) {
	var (
		r        scheduler.WorldReader
		tasklets []scheduler.TaskletState
		channels []scheduler.ChannelState
	)
	tp, cp := v.Pages()
	for p := range tp {
		require.NoError(t, r.Tasklets(v, p, func(ts *scheduler.TaskletState) error {
			c := *ts
			if ts.Cases != nil {
				c.Cases = append([]tasklet.Case(nil), ts.Cases...)
			}
			tasklets = append(tasklets, c)
			return nil
		}))
	}
	for p := range cp {
		require.NoError(t, r.Channels(v, p, func(cs *scheduler.ChannelState) error {
			c := *cs
			if cs.Senders != nil {
				c.Senders = append([]scheduler.WaiterState(nil), cs.Senders...)
			}
			if cs.Receivers != nil {
				c.Receivers = append([]scheduler.WaiterState(nil), cs.Receivers...)
			}
			channels = append(channels, c)
			return nil
		}))
	}
	nt, nc := v.Counts()
	assert.Len(t, tasklets, nt)
	assert.Len(t, channels, nc)
	return tasklets, channels
}

// TestWorldViewReadsWhatWorldCopies: a checkpoint reads the world in place
// through a WorldView; it must see exactly what World copies, for every
// kind of wait, queue and buffer, across several ID pages.
func TestWorldViewReadsWhatWorldCopies(t *testing.T) {
	s := scheduler.New()
	plain := s.NewChannel(0)
	buffered := s.NewChannel(2)
	selected := s.NewChannel(0)
	closed := s.NewChannel(3)
	for i := range 600 { // three pages of tasklets, blocked on plain receives
		s.NewChannel(0)
		s.Spawn(run(func(t *tasklet.T) tasklet.Op { return t.Recv(plain) }))
		if i%100 == 0 {
			s.Spawn(run(func(t *tasklet.T) tasklet.Op { return t.Yield() })) // runnable
		}
	}
	for i := range 3 {
		s.Spawn(run(func(t *tasklet.T) tasklet.Op { return t.Send(buffered, i) })) // two buffered, one blocked
		s.Spawn(run(func(t *tasklet.T) tasklet.Op {
			return t.Select(tasklet.RecvCase(selected), tasklet.SendCase(closed+5, i), tasklet.TimeoutCase(time.Hour))
		}))
		s.Spawn(run(func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Duration(i+1) * time.Minute) }))
	}
	s.Spawn(run(func(t *tasklet.T) tasklet.Op { return t.Send(closed, "kept") }))
	s.Post(selected+1, "posted")
	require.NoError(t, s.Tick())
	require.NoError(t, s.Close(closed))

	w := s.World()
	tasklets, channels := viewed(t, s.View())
	assert.Equal(t, w.Tasklets, tasklets)
	assert.Equal(t, len(w.Channels), len(channels))
	for i := range min(len(w.Channels), len(channels)) {
		want, got := w.Channels[i], channels[i]
		if len(want.Buffer) == 0 && len(got.Buffer) == 0 {
			want.Buffer, got.Buffer = nil, nil // World says [] where the view says nil: both encode as []
		}
		assert.Equal(t, want, got, "channel %v", want.ID)
	}
	var selects, buffers, valued int
	for _, ts := range tasklets {
		if len(ts.Cases) == 3 {
			selects++
		}
	}
	for _, cs := range channels {
		if len(cs.Buffer) > 0 {
			buffers++
		}
		for _, ws := range cs.Senders {
			if ws.Value != nil {
				valued++
			}
		}
	}
	assert.Equal(t, 3, selects, "tasklets waiting in a select")
	assert.Equal(t, 2, buffers, "channels holding values")
	assert.Positive(t, valued, "senders offering values")
	v := s.View()
	assert.Equal(t, s.WorldHeader(), v.Header)
	tp, _ := v.Pages()
	assert.Greater(t, tp, 2, "the world spans several pages of tasklets")
}
