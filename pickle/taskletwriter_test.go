package pickle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// noKind is a behavior no registry knows.
type noKind struct{}

func (noKind) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// TestTaskletWriterWritesWhatAppendTaskletWrites: the writer remembers the
// last kind it looked up; tasklets of alternating kinds, and a behavior of
// no kind, must still come out exactly as AppendTasklet writes them.
func TestTaskletWriterWritesWhatAppendTaskletWrites(t *testing.T) {
	reg := registry(t)
	s, _ := build(5)
	_, err := s.RunBudget(context.Background(), 17, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	w := s.World()
	require.Greater(t, len(w.Tasklets), 3)
	tw := reg.TaskletWriter()
	kinds := map[string]bool{}
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		want, err := reg.AppendTasklet([]byte("prefix"), ts)
		require.NoError(t, err)
		got, err := tw.Append([]byte("prefix"), ts)
		require.NoError(t, err)
		assert.Equal(t, want, got, "tasklet %v", ts.ID)
		k, err := reg.KindOf(ts.Behavior)
		require.NoError(t, err)
		kinds[k.Name] = true
	}
	assert.Len(t, kinds, 2, "the world has tasklets of both kinds")

	bad := scheduler.TaskletState{ID: 99, Behavior: noKind{}}
	_, wantErr := reg.AppendTasklet(nil, &bad)
	require.Error(t, wantErr)
	out, err := tw.Append([]byte("x"), &bad)
	assert.EqualError(t, err, wantErr.Error())
	assert.Equal(t, []byte("x"), out, "nothing appended on an error")
	_, err = tw.Append(nil, &scheduler.TaskletState{ID: 100})
	assert.ErrorIs(t, err, pickle.ErrUnregistered, "a tasklet without a behavior")
}
