package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

func TestCoordinatorKillNineLeavesWorkersRunningAndARestartAdoptsThem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	coord := p.start(ctx)
	cl := p.dial(ctx)
	col, want := spawnWork(t, ctx, cl, 4, 3000, 200)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	before := pidsOf(st)
	var steps uint64
	for _, w := range st.Workers {
		steps += w.Steps
	}

	coord.kill9(t)
	for _, pid := range before {
		assert.True(t, cluster.PidAlive(pid), "worker %d runs on after its coordinator died", pid)
	}
	_, err = os.Stat(filepath.Join(p.dir, "sock", "c"))
	require.NoError(t, err, "kill -9 leaves the coordinator's socket behind")
	for _, n := range []string{"w1", "w2"} { // their output goes to a file now
		log := filepath.Join(p.dir, "log", n+".log")
		for b, _ := os.ReadFile(log); !strings.Contains(string(b), "the coordinator is gone"); b, _ = os.ReadFile(log) {
			require.NoError(t, ctx.Err(), "worker %s never said it runs on without a coordinator", n)
			waitABit(ctx)
		}
	}

	coord = p.start(ctx) // removes the stale socket and adopts the workers
	cl = p.dial(ctx)
	st, err = cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, pidsOf(st), "the same worker processes")
	assert.Equal(t, 2, st.Adopted)
	assert.Zero(t, st.Rollbacks, "no rollback when no worker died")
	assert.Contains(t, st.Note, "adopted 2 worker(s)")
	assert.Equal(t, "running", st.State)
	var after uint64
	for _, w := range st.Workers {
		after += w.Steps
	}
	assert.Greater(t, after, steps, "the workers kept their steps: nothing was rolled back")

	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
	require.NoError(t, cl.Down(ctx))
	coord.exited(t)
	assert.NoError(t, coord.err)
	p.assertNothingLeft(ctx)
}

func TestAWorkerThatDiedWithoutACoordinatorMeansRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 3, -1)
	coord := p.start(ctx)
	cl := p.dial(ctx)
	col, want := spawnWork(t, ctx, cl, 6, 2000, 200)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	before := pidsOf(st)
	coord.kill9(t)
	killWorker(t, st.Workers[1].Pid)

	coord = p.start(ctx)
	cl = p.dial(ctx)
	st, err = cl.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Adopted)
	assert.Contains(t, st.Note, "could not adopt the 2 worker(s)")
	assert.Contains(t, st.Note, "died meanwhile", "it says why")
	require.Len(t, st.Workers, 3)
	for _, w := range st.Workers {
		assert.NotContains(t, before, w.Pid, "every worker was replaced")
	}
	for _, pid := range before {
		for cluster.PidAlive(pid) && ctx.Err() == nil {
			waitABit(ctx)
		}
		assert.False(t, cluster.PidAlive(pid), "the workers it could not adopt were stopped: %d", pid)
	}
	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 6, got)
	assert.Equal(t, want(), xor, "restored from the newest checkpoint, the result is exact")
	require.NoError(t, cl.Down(ctx))
	coord.exited(t)
	assert.NoError(t, coord.err)
	p.assertNothingLeft(ctx)
}

// A worker stopped (SIGSTOP) when its coordinator died still holds its
// socket, which takes connections, but fails the handshake. The next
// coordinator took it for dead ("died meanwhile"), started a replacement
// that could not listen ("another process is listening"), and exited: the
// cluster stayed down until someone found and killed the stopped process.
// It is now stopped with the others, and the checkpoint restored.
func TestAStoppedWorkerDoesNotKeepTheClusterDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	coord := p.start(ctx)
	cl := p.dial(ctx)
	col, want := spawnWork(t, ctx, cl, 4, 2000, 200)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	before := pidsOf(st)
	stopped := st.Workers[0].Pid
	sigstop(t, stopped)
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGKILL) })
	coord.kill9(t)

	// While the new coordinator waits for the stopped worker's handshake
	// (3 s), status answers, and says the cluster is starting, not running.
	early := make(chan cluster.Status, 1)
	go func() {
		for ctx.Err() == nil {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := cluster.Dial(dctx, cluster.DialConfig{Dir: p.dir})
			if err == nil {
				st, err := c.Status(dctx)
				c.Close()
				cancel()
				if err == nil {
					early <- st
					return
				}
				continue
			}
			cancel()
			waitABit(ctx)
		}
	}()
	coord = p.start(ctx)
	select {
	case st := <-early:
		assert.True(t, strings.HasPrefix(st.State, "starting: "), "state while starting: %q", st.State)
		assert.Empty(t, st.Workers)
	case <-ctx.Done():
		t.Fatal("no status while the coordinator started")
	}
	cl = p.dial(ctx)
	st, err = cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "running", st.State)
	assert.Zero(t, st.Adopted)
	assert.Contains(t, st.Note, fmt.Sprintf("worker 1 (pid %d) did not answer: pid %d is stopped", stopped, stopped), "it says why")
	require.Len(t, st.Workers, 2)
	for _, w := range st.Workers {
		assert.NotContains(t, before, w.Pid, "every worker was replaced")
		assert.Empty(t, w.Err)
	}
	for cluster.PidAlive(stopped) && ctx.Err() == nil {
		waitABit(ctx)
	}
	assert.False(t, cluster.PidAlive(stopped), "the stopped worker was killed")
	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want(), xor, "restored from the newest checkpoint, the result is exact")
	require.NoError(t, cl.Down(ctx))
	coord.exited(t)
	assert.NoError(t, coord.err)
	p.assertNothingLeft(ctx)
}

func TestOrphanedWorkersExitAfterOrphanAfter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	p.orphan = 500 * time.Millisecond
	coord := p.start(ctx)
	coord.kill9(t)
	p.assertNothingLeft(ctx) // they exit by themselves, removing their sockets and records
}

func TestStaleSocketsAndRecordsAreRemovedAtStart(t *testing.T) {
	dir := shortDir(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sock"), 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run"), 0o700))
	for _, name := range []string{"c", "w7"} { // sockets of processes that died: no listener
		ln, err := net.Listen("unix", filepath.Join(dir, "sock", name))
		require.NoError(t, err)
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		require.NoError(t, ln.Close())
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run", "w7.json"), []byte(`{"node":7,"pid":2147483000,"network":"unix","addr":"x"}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run", "w8.json"), []byte(`{"node":`), 0o600)) // half written
	c, ctx := startCluster(t, 1, func(cfg *cluster.Config) { cfg.Dir = dir; cfg.WorkerCommand = testWorkerCommand(dir, "") })
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Len(t, st.Workers, 1)
	assert.Zero(t, st.Adopted)
	assert.Contains(t, st.Note, "worker 7 (pid 2147483000)")
	for _, gone := range []string{"sock/w7", "run/w7.json", "run/w8.json"} {
		_, err := os.Stat(filepath.Join(dir, gone))
		assert.ErrorIs(t, err, os.ErrNotExist, "%s is removed", gone)
	}
}
