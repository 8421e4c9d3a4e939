package cli

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// `stackless observe` kept the client it dialed at start: once the
// coordinator stopped and a new one started on the same folder, every page
// said "no link to that node" until the observer was restarted too. Its
// client now dials again when it finds the link gone; reads are asked
// again, actions are not.
func TestTheObserverFollowsARestartedCoordinator(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	first, stop := context.WithCancel(ctx)
	defer stop()
	args := []string{"-n", "1", "--checkpoint-every", "0", "--balance-every", "0"}
	dir, done := startUp(t, first, args...)
	dials := 0
	r := &redialClient{dial: func(ctx context.Context) (*cluster.Client, error) {
		dials++
		return cluster.Dial(ctx, cluster.DialConfig{Dir: dir})
	}}
	defer r.Close()
	st, err := r.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 1)

	stop() // as Ctrl-C: a clean shutdown
	<-done
	_, err = r.Kill(ctx, 5)
	require.Error(t, err, "no coordinator")
	assert.True(t, linkGone(err), "an action is not asked again: %v", err)

	again, _ := startUpIn(t, ctx, dir, args...)
	st, err = r.Status(ctx)
	require.NoError(t, err, "the new coordinator answers the same client")
	assert.Len(t, st.Workers, 1)
	ps, err := r.List(ctx, cluster.ListQuery{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, ps.Tasklets)
	assert.Zero(t, ps.Total)
	assert.Equal(t, 2, dials, "one dial at start, one after the restart")
	cancel()
	<-again
}
