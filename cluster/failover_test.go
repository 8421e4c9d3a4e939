package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxFailover is the bound on a leader's failover: kill -9 of the
// leading coordinator to the standby leading, workers adopted.
const maxFailover = 5 * time.Second

// TestStandbyTakesOverAfterKillNine: a standby coordinator waits on the
// cluster of a leader; kill -9 of the leader: the standby leads within
// maxFailover with a higher epoch, adopts the same worker processes
// without a rollback (their steps kept), and the work ends with the
// result of an uninterrupted run.
func TestStandbyTakesOverAfterKillNine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	leader := p.start(ctx)
	cl := p.dial(ctx)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Leader, "status says who leads")
	assert.Equal(t, leader.cmd.Process.Pid, st.Leader.Pid)
	assert.NotZero(t, st.Leader.Epoch)
	assert.False(t, st.Leader.Since.IsZero())
	first := *st.Leader
	col, want := spawnWork(t, ctx, cl, 4, 3000, 200)

	standby, up := p.startStandby(ctx)
	st, err = cl.Status(ctx)
	require.NoError(t, err)
	before := pidsOf(st)
	var steps uint64
	for _, w := range st.Workers {
		steps += w.Steps
	}
	require.NoError(t, cl.Close())

	t0 := time.Now()
	leader.kill9(t)
	select {
	case <-up:
	case <-standby.done:
		require.FailNow(t, "the standby exited instead of taking over", "%v", standby.err)
	case <-ctx.Done():
		require.FailNow(t, "the standby never took over")
	}
	failover := time.Since(t0)
	t.Logf("failover (kill -9 of the leader to the standby leading, workers adopted): %v", failover)
	assert.Less(t, failover, maxFailover)

	cl = p.dial(ctx)
	st, err = cl.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Leader)
	assert.Equal(t, standby.cmd.Process.Pid, st.Leader.Pid, "the standby leads")
	assert.Greater(t, st.Leader.Epoch, first.Epoch, "with a higher epoch")
	assert.True(t, st.Leader.Since.After(first.Since))
	assert.Equal(t, before, pidsOf(st), "the same worker processes ran on")
	assert.Equal(t, 2, st.Adopted)
	assert.Zero(t, st.Rollbacks, "no rollback")
	var after uint64
	for _, w := range st.Workers {
		after += w.Steps
	}
	assert.Greater(t, after, steps, "no step was lost")

	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
	require.NoError(t, cl.Down(ctx))
	standby.exited(t)
	assert.NoError(t, standby.err)
	p.assertNothingLeft(ctx)
}
