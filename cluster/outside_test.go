package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// TestClusterOnThreeNATSServersSurvivesOneStopped: a cluster keeping its
// checkpoints and lease on three clustered NATS servers (replicas 3) goes
// on when one of them stops: a checkpoint is committed after it, and the
// newest checkpoint restores onto another number of workers with the
// exact result.
func TestClusterOnThreeNATSServersSurvivesOneStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three clustered NATS servers and worker processes")
	}
	urls, seed, stop := cluster.StartNATSCluster(t, 3)
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.NATS, cfg.NATSCreds = urls, seed })
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Leader)
	col, want := spawnWork(t, ctx, c, 6, 4000, 100)
	_, err = c.Checkpoint(ctx)
	require.NoError(t, err)

	stop(0)
	var cp cluster.CheckpointResult
	t0 := time.Now()
	require.Eventually(t, func() bool {
		cp, err = c.Checkpoint(ctx)
		return err == nil
	}, testTimeout/3, 250e6, "no checkpoint committed with one NATS server of three stopped")
	t.Logf("FIGURE: the first checkpoint after a NATS server stopped was committed after %v", time.Since(t0).Round(time.Millisecond))
	res, err := c.Restore(ctx, 0, 3)
	require.NoError(t, err)
	assert.Equal(t, cp.Gen, res.Gen, "the newest checkpoint restored")
	assert.Len(t, res.Workers, 3)
	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 6, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
}

// TestEffectsJournaledOnOutsideNATS: with Config.NATS the local workers
// journal on those servers (the coordinator tells them where, with the
// credentials), not on an embedded server there is none of.
func TestEffectsJournaledOnOutsideNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server and worker processes")
	}
	url, seed := cluster.StartOutsideNATS(t)
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.NATS, cfg.NATSCreds = url, seed })
	srv := newCountingServer(t, 0)
	col, want := spawnFetchers(t, ctx, c, srv.URL, 4, 5)
	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want, xor)
	n, err := c.JournalLen(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4*5, n, "every call's result is in the journal on the outside servers")
}
