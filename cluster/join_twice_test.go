package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// A second process started as a worker that already joined is told so,
// with the pid of the one that did, not that no such worker is expected.
func TestSecondWorkerWithATakenNodeIsToldSo(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	err := cluster.RunWorker(ctx, cluster.WorkerConfig{Dir: c.Dir(), Node: 1})
	require.Error(t, err)
	assert.ErrorContains(t, err, "worker 1 has already joined (pid ")
	assert.ErrorContains(t, err, "stop it")
	assert.NotContains(t, err.Error(), "no worker 1 is expected")
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 1, "the first worker still serves")
}
