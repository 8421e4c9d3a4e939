package cluster_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// A worker stopped with SIGSTOP (or hung) held Status until the keepalive
// dropped its link (10 s), and then Status failed: `cluster status`, the
// observer's overview and /metrics showed nothing, not even the workers
// that were fine, at the moment an operator needed them. Status now waits
// StatusWait for each worker and lists a silent one with its error.
func TestStatusListsAStoppedWorkerWithoutWaitingForIt(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 2)
	stopped := st.Workers[1].Pid
	sigstop(t, stopped)
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGCONT) })

	st, err = c.Status(ctx)
	require.NoError(t, err, "one silent worker does not fail the status")
	require.Len(t, st.Workers, 2)
	assert.Empty(t, st.Workers[0].Err, "worker 1 answered")
	assert.Equal(t, st.Workers[0].Node, uint16(1))
	assert.Positive(t, st.Workers[0].HeapBytes, "worker 1's own figures")
	w := st.Workers[1]
	assert.Equal(t, stopped, w.Pid, "the coordinator's record of the silent worker")
	assert.Contains(t, w.Err, "did not answer within "+cluster.StatusWait.String())
	assert.Zero(t, w.HeapBytes)

	require.NoError(t, syscall.Kill(stopped, syscall.SIGCONT))
	st, err = c.Status(ctx)
	require.NoError(t, err)
	for _, w := range st.Workers {
		assert.Empty(t, w.Err, "worker %d answers again", w.Node)
	}
}

// A page of ps with a worker stopped waits ListWait for it, not the
// caller's whole timeout (the coordinator holds off checkpoints while it
// waits), and names the worker; the worker answers again once continued.
func TestListNamesAStoppedWorker(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	cluster.SetListWait(t, 300*time.Millisecond)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	stopped := st.Workers[1].Pid
	sigstop(t, stopped)
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGCONT) })

	_, err = c.List(ctx, cluster.ListQuery{Limit: 10})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "worker 2 (pid "+strconv.Itoa(stopped)+") did not answer within 300ms")
	require.NoError(t, ctx.Err(), "not the caller's deadline")

	require.NoError(t, syscall.Kill(stopped, syscall.SIGCONT))
	_, err = c.List(ctx, cluster.ListQuery{Limit: 10})
	assert.NoError(t, err)
}

// `cluster down` with a worker stopped (SIGSTOP) said "cluster down" and
// exited 0, while the coordinator logged that the final checkpoint was not
// stored and the work since the last one was lost. Down now says so: the
// cluster is down all the same, every worker gone (the stopped one killed).
func TestDownSaysWhenItsFinalCheckpointWasNotStored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	coord := p.start(ctx)
	cl := p.dial(ctx)
	spawnWork(t, ctx, cl, 4, 2000, 200)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	stopped := st.Workers[1].Pid
	sigstop(t, stopped)
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGKILL) })

	err = cl.Down(ctx)
	require.ErrorIs(t, err, cluster.ErrDownUnsaved)
	assert.Contains(t, err.Error(), "the cluster is down, but final checkpoint not stored, the work since the last checkpoint is lost")
	assert.Contains(t, err.Error(), "the newest is "+strconv.FormatUint(st.LastGen, 10))
	coord.exited(t)
	assert.Error(t, coord.err, "cluster up says so too")
	p.assertNothingLeft(ctx)
}

// sigstop stops process pid and waits until all its threads are stopped:
// kill returns before they are, and a status asked at once was answered by
// a thread still running (CI, once).
func sigstop(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	require.Eventually(t, func() bool { return cluster.ProcessStopped(pid) }, 10*time.Second, time.Millisecond, "pid %d stops", pid)
}
