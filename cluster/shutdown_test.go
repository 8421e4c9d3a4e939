package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// Shutdown, as clients see it.

// `cluster down && cluster up`: Down returned once the coordinator's link
// dropped, before it gave up its lease, closed its store and removed its
// socket; an up started then found the lease held, stood by, and stopped
// with the cluster going down. Down now returns once the socket is gone.
func TestUpRightAfterDownStartsTheCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	t.Setenv(envSlowClose, "300ms") // the coordinator's own launch reads it
	p := newClusterProcs(t, 1, -1)
	coord := p.start(ctx)
	spawnWork(t, ctx, p.dial(ctx), 2, 100, 10)
	require.NoError(t, p.dial(ctx).Down(ctx))
	assert.False(t, cluster.StoreInUse(p.dir), "the coordinator let its store go before Down returned")
	p.start(ctx) // at once, as `down && up` does
	st, err := p.dial(ctx).Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "running", st.State)
	assert.Len(t, st.Workers, 1)
	coord.exited(t)
}

// After Close, a command says it was not done, and which: "the
// coordinator is shut down" alone left a restore cut by `cluster down`
// unexplained.
func TestCommandsAfterCloseSayTheyWereNotDone(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	require.NoError(t, c.Close())
	_, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 1})
	assert.ErrorIs(t, err, cluster.ErrClosed)
	assert.ErrorContains(t, err, `spawn "sink" not done`)
	_, err = c.Restore(ctx, 0, 1)
	assert.ErrorIs(t, err, cluster.ErrClosed)
	assert.ErrorContains(t, err, "restore not done")
	_, err = c.Checkpoint(ctx)
	assert.ErrorContains(t, err, "checkpoint not taken")
	_, err = c.Kill(ctx, 1<<48|1)
	assert.ErrorContains(t, err, "kill t281474976710657 not done")
	_, err = c.Migrate(ctx, 1<<48|1, 1)
	assert.ErrorContains(t, err, "migrate t281474976710657 not done")
}
