package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
)

// A tasklet grown past the record limit makes every checkpoint fail: status
// says so (how many, since when, why), not only the coordinator's log,
// until a checkpoint is stored again.
func TestFailingCheckpointsShowInStatus(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, st.CheckpointFailures)
	last := st.LastGen

	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "ballast", Count: 1, Worker: 1, Args: map[string]string{"bytes": fmt.Sprint(pickle.DefaultMaxRecord + 1)}})
	require.Error(t, err, "a tasklet over the record limit cannot be checkpointed")
	require.Len(t, res.Tasklets, 1)
	big := res.Tasklets[0].ID
	t.Cleanup(func() { _, _ = c.Kill(ctx, big) }) // else the final checkpoint fails too
	assert.Contains(t, err.Error(), "record too large", "the worker's error, as text")
	assert.Contains(t, err.Error(), fmt.Sprintf("tasklet %v (kind test.ballast)", big), "the error names the tasklet")
	_, err = c.Checkpoint(ctx)
	require.Error(t, err)

	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, st.CheckpointFailures)
	assert.Equal(t, last, st.LastGen)
	assert.False(t, st.FailingSince.IsZero())
	assert.Contains(t, st.CheckpointErr, "test.ballast")
	assert.Contains(t, st.Failing(), fmt.Sprintf("2 in a row since %s, the work since generation %d is not saved", st.FailingSince.Local().Format("15:04:05"), last))

	// Through a client too: the fields cross the wire.
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: st.Dir})
	require.NoError(t, err)
	defer cl.Close()
	cst, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, st.Failing(), cst.Failing())

	_, err = c.Kill(ctx, big)
	require.NoError(t, err)
	_, err = c.Checkpoint(ctx)
	require.NoError(t, err)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.CheckpointFailures, "a stored checkpoint ends the run of failures")
	assert.Empty(t, st.Failing())
	assert.Greater(t, st.LastGen, last)
}
