package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// dyingStarts wraps the test worker command: after the first `healthy`
// starts, the next `die` ones start workers that kill -9 themselves at
// once (a replacement killed as soon as it appears).
type dyingStarts struct {
	starts, healthy, die atomic.Int64
}

func (d *dyingStarts) command(dir string) func(node uint16) (*exec.Cmd, error) {
	base := testWorkerCommand(dir, "")
	return func(node uint16) (*exec.Cmd, error) {
		cmd, err := base(node)
		if err != nil {
			return nil, err
		}
		if n := d.starts.Add(1); n > d.healthy.Load() && d.die.Add(-1) >= 0 {
			cmd.Env = append(cmd.Env, envDie+"=1")
		}
		return cmd, nil
	}
}

// killWorker kill -9s the worker process of node.
func killWorker(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
}

func TestRollbackRetriedWhenTheReplacementDiesToo(t *testing.T) {
	d := &dyingStarts{}
	d.healthy.Store(3)
	d.die.Store(2) // the replacement dies, and the next try's too
	c, ctx := startCluster(t, 3, func(cfg *cluster.Config) { cfg.WorkerCommand = d.command(cfg.Dir) })
	col, want := spawnWork(t, ctx, c, 6, 2000, 200)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 3)
	killWorker(t, st.Workers[1].Pid)

	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 6, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Len(t, st.Workers, 3, "the cluster runs on 3 workers again")
	assert.Equal(t, "running", st.State)
	assert.GreaterOrEqual(t, st.Rollbacks, 2, "the rollback was tried again after a replacement died")
	assert.LessOrEqual(t, d.die.Load(), int64(0), "both dying replacements were started")
}

func TestRollbackGivesUpLoudlyThenRestoreBringsItBack(t *testing.T) {
	d := &dyingStarts{}
	d.healthy.Store(2)
	d.die.Store(1 << 30) // every replacement dies
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.WorkerCommand = d.command(cfg.Dir) })
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 2)
	killWorker(t, st.Workers[0].Pid)

	st = waitState(t, ctx, c, "down:")
	assert.Contains(t, st.State, "down: rollback failed 5 times:")
	assert.Contains(t, st.State, "exited while starting", "the state says why")
	assert.Empty(t, st.Workers)
	_, err = c.Checkpoint(ctx)
	assert.ErrorContains(t, err, "no worker is ready")
	select {
	case <-c.Done():
		t.Fatal("a down coordinator keeps serving, so status can say it is down")
	default:
	}

	d.die.Store(0) // the operator fixed the cause
	_, err = c.Restore(ctx, 0, 0)
	require.NoError(t, err)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "running", st.State)
	assert.Len(t, st.Workers, 2)
}

func TestCloseOfADownClusterFails(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts worker processes (make test runs it; make test-short skips it)")
	}
	d := &dyingStarts{}
	d.healthy.Store(1)
	d.die.Store(1 << 30)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := shortDir(t)
	var out syncBuffer
	c, err := cluster.Start(ctx, cluster.Config{Dir: dir, Workers: 1, CheckpointEvery: -1, BalanceEvery: -1,
		WorkerCommand: d.command(dir), Output: &out, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	killWorker(t, st.Workers[0].Pid)
	waitState(t, ctx, c, "down:")
	err = c.Close()
	require.ErrorIs(t, err, cluster.ErrDown, "`cluster up` exits non-zero")
	assert.Contains(t, err.Error(), "rollback failed 5 times")
	entries, err := os.ReadDir(dir + "/sock")
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// waitState asks for the status until its state starts with prefix (a
// worker that dies makes some asks fail: that is fine here).
func waitState(t *testing.T, ctx context.Context, c cluster.API, prefix string) cluster.Status {
	t.Helper()
	for {
		st, err := c.Status(ctx)
		if err == nil && strings.HasPrefix(st.State, prefix) {
			return st
		}
		require.NoError(t, ctx.Err(), "the state never became %q: %q (%v)", prefix, st.State, err)
	}
}
