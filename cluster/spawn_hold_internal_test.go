package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// heldStep tells heldRan that a tasklet ran its first step, then ends.
type heldStep struct{}

var heldRan = make(chan struct{}, 4)

func (heldStep) Step(t *tasklet.T) tasklet.Op {
	heldRan <- struct{}{}
	return t.Exit()
}

func init() {
	MustRegisterSpawner("test-held-step", func(map[string]string) (tasklet.Behavior, error) { return heldStep{}, nil })
}

// A spawn with Hold leaves the worker paused in the same request, so its
// new tasklets run no step before the spawn's checkpoint stores them; the
// checkpoint's resume lets them run.
func TestSpawnWithHoldRunsNoStepUntilResumed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := pickle.NewRegistry()
	reg.MustRegister("test-held-step", 1, heldStep{})
	w := bareWorker(reg)
	defer runLoop(ctx, w)()

	got, err := w.spawn(ctx, spawnReq{Kind: "test-held-step", Count: 2, Hold: true})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, w.readStats().Paused, "the worker holds its new tasklets paused")
	// A request served after the spawn: the loop went round while held.
	page, err := w.list(ctx, ListQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Tasklets, 2)
	for _, v := range page.Tasklets {
		assert.Zero(t, v.Steps, "tasklet %d ran before the resume", v.ID)
	}
	assert.Empty(t, heldRan, "no step ran while held")

	_, err = w.resume(ctx, none{})
	require.NoError(t, err)
	for range got {
		select {
		case <-heldRan:
		case <-ctx.Done():
			t.Fatal("the held tasklets did not run after the resume")
		}
	}
}
