package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/tasklet"
)

// TestNewLeaderAdoptsTheWorkersOfOtherMachines: three clustered NATS
// servers; machine A runs the leading coordinator (a process of its own)
// and one local worker, machine A2 (another folder) a standby coordinator,
// machine B two workers that joined through NATS. Work runs on every
// worker. kill -9 of the leader mid-workload: the standby leads, adopts
// machine B's workers and machine A's worker where they run (found in the
// members bucket), and nobody is rolled back: the same processes run on as
// the same nodes, their steps go on increasing, and the work ends with the
// result of an uninterrupted run.
func TestNewLeaderAdoptsTheWorkersOfOtherMachines(t *testing.T) {
	m := startMachines(t, "adopt")
	ctx, cl, a, a2, leader, standby, up := m.ctx, m.cl, m.a, m.a2, m.leader, m.standby, m.up
	b1, b2 := m.b1, m.b2
	remotePids := []int{b1.cmd.Process.Pid, b2.cmd.Process.Pid}

	// Work on every worker (a collector on A's worker): it runs through
	// the failover; one more piece is spawned by the new leader.
	const count, rounds, perStep = 3, 10000, 300
	col, err := cl.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": strconv.Itoa(count + 1)}})
	require.NoError(t, err)
	in := col.Tasklets[0].Channels["in"].String()
	work := cluster.SpawnRequest{Kind: "work", Count: count, Place: cluster.PlaceRoundRobin,
		Args: map[string]string{"out": in, "rounds": strconv.Itoa(rounds), "per_step": strconv.Itoa(perStep)}}
	res, err := cl.Spawn(ctx, work)
	require.NoError(t, err)
	want := uint64(0)
	for _, s := range res.Tasklets {
		want ^= expectedDigest(uint64(s.ID), rounds*perStep)
	}

	// Every worker is running its work (its stats show it once its loop
	// has run a slice since the spawn).
	var before cluster.Status
	waitFor(t, ctx, "every worker to run its work", func() bool {
		before, err = cl.Status(ctx)
		if err != nil || len(before.Workers) != 3 {
			return false
		}
		for _, w := range before.Workers {
			if w.RunnableNow == 0 {
				return false
			}
		}
		return true
	})
	require.NotNil(t, before.Leader)
	require.Equal(t, leader.cmd.Process.Pid, before.Leader.Pid)
	stepsBefore := map[int]uint64{} // by pid
	nodeOf := map[int]uint16{}
	for _, w := range before.Workers {
		stepsBefore[w.Pid], nodeOf[w.Pid] = w.Steps, w.Node
	}
	for _, pid := range remotePids {
		require.Contains(t, nodeOf, pid, "machine B's worker (pid %d) is in the cluster: %+v", pid, before.Workers)
	}
	v, err := cl.Inspect(ctx, col.Tasklets[0].ID)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the kill: make it longer")

	t0 := time.Now()
	leader.kill9(t)
	select {
	case <-up:
	case <-standby.done:
		require.FailNow(t, "the standby exited instead of taking over", "%v", standby.err)
	case <-ctx.Done():
		require.FailNow(t, "the standby never took over")
	}
	t.Logf("failover (kill -9 of the leader to the standby on another machine leading, workers adopted): %v", time.Since(t0))

	// The new leader acts: it spawns the last piece of work.
	last := work
	last.Count = 1
	more, err := cl.Spawn(ctx, last)
	require.NoError(t, err, "the new leader spawns")
	want ^= expectedDigest(uint64(more.Tasklets[0].ID), rounds*perStep)

	after, err := cl.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, after.Leader)
	assert.Equal(t, standby.cmd.Process.Pid, after.Leader.Pid, "the standby leads")
	assert.Greater(t, after.Leader.Epoch, before.Leader.Epoch)
	assert.Equal(t, 3, after.Adopted, "every worker is adopted: %s", after.Note)
	assert.Zero(t, after.Rollbacks, "no rollback")
	require.Len(t, after.Workers, 3, "%+v", after.Workers)
	for _, w := range after.Workers {
		n, ok := nodeOf[w.Pid]
		if !assert.True(t, ok, "worker %d (pid %d) is a process that ran before the failover", w.Node, w.Pid) {
			continue
		}
		assert.Equal(t, n, w.Node, "pid %d is still node %d", w.Pid, n)
		assert.Greater(t, w.Steps, stepsBefore[w.Pid], "worker %d (pid %d) ran on across the failover, no step lost", w.Node, w.Pid)
	}

	xor, got := collected(t, ctx, cl, col.Tasklets[0].ID)
	assert.Equal(t, count+1, got)
	assert.Equal(t, want, xor, "the result of an uninterrupted run")
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Rollbacks, "no rollback")

	require.NoError(t, cl.Down(ctx))
	select {
	case <-standby.done:
		assert.NoError(t, standby.err)
	case <-ctx.Done():
		require.FailNow(t, "the new leader did not stop at down")
	}
	for _, rw := range []*remoteWorker{b1, b2} {
		select {
		case <-rw.done:
			assert.NoError(t, rw.err, "machine B's worker stops at down")
		case <-ctx.Done():
			require.FailNow(t, "a worker of machine B did not stop at down")
		}
	}
	for _, pid := range a.workerPids() {
		for cluster.PidAlive(pid) && ctx.Err() == nil {
			waitABit(ctx)
		}
		assert.False(t, cluster.PidAlive(pid), "machine A's worker (pid %d) stops at down", pid)
	}
	a2.assertNothingLeft(ctx)
}

// machines is the cluster of the tests above: machine A's leading
// coordinator process with one local worker, machine A2's standby (another
// folder), machine B's two workers joined through NATS, on three
// clustered NATS servers.
type machines struct {
	ctx             context.Context
	cl              *cluster.Client
	a, a2           *clusterProcs
	leader, standby *coordProc
	up              <-chan struct{}
	b1, b2          *remoteWorker
}

func startMachines(t *testing.T, name string) *machines {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level: starts three NATS servers, coordinator and worker processes (make test runs it)")
	}
	urls, seed, _ := cluster.StartNATSCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	m := &machines{ctx: ctx}
	m.a = newClusterProcs(t, 1, -1)
	m.a.nats, m.a.creds, m.a.name, m.a.tls = urls, seed, name, certs
	m.leader = m.a.start(ctx)
	cl, err := cluster.Dial(ctx, cluster.DialConfig{NATS: urls, NATSCreds: seed, Name: name})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	m.cl = cl
	secret := filepath.Join(m.a.dir, "secret")
	m.b1 = startNATSWorker(t, urls, seed, name, certs, secret)
	m.b2 = startNATSWorker(t, urls, seed, name, certs, secret)
	workersOf(t, ctx, cl, 3)

	// Machine A2: the same secret and certificates (copied, as to every
	// machine of a cluster), a folder of its own.
	m.a2 = newClusterProcs(t, 1, -1)
	m.a2.nats, m.a2.creds, m.a2.name, m.a2.tls = urls, seed, name, certs
	b, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(m.a2.dir, "secret"), b, 0o600))
	m.standby, m.up = m.a2.startStandby(ctx)
	return m
}

// TestNewLeaderRestoresWhenAWorkerDiedWithTheLeader: kill -9 of the
// leader and of machine A's worker: the workers of machine B are not a
// whole cluster without it, so the new leader restores the newest
// checkpoint, and tells machine B's workers to join again at once (they do
// not wait out --orphan-after): the same processes join, the work ends
// with the exact result.
func TestNewLeaderRestoresWhenAWorkerDiedWithTheLeader(t *testing.T) {
	m := startMachines(t, "fallback")
	ctx, cl := m.ctx, m.cl
	col, want := spawnWork(t, ctx, cl, 3, 2000, 100)
	_, err := cl.Checkpoint(ctx)
	require.NoError(t, err)
	for _, pid := range m.a.workerPids() {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	}
	m.leader.kill9(t)
	select {
	case <-m.up:
	case <-m.standby.done:
		require.FailNow(t, "the standby exited instead of taking over", "%v", m.standby.err)
	case <-ctx.Done():
		require.FailNow(t, "the standby never took over")
	}
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Adopted, "machine B's workers alone are not a whole cluster")
	assert.Contains(t, st.Note, "could not adopt")
	waitFor(t, ctx, "machine B's workers to join the new leader", func() bool {
		st, err := cl.Status(ctx)
		if err != nil {
			return false
		}
		n := 0
		for _, w := range st.Workers {
			if w.Pid == m.b1.cmd.Process.Pid || w.Pid == m.b2.cmd.Process.Pid {
				n++
			}
		}
		return n == 2
	})
	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 3, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
	require.NoError(t, cl.Down(ctx))
	m.standby.exited(t)
	assert.NoError(t, m.standby.err)
	for _, rw := range []*remoteWorker{m.b1, m.b2} {
		select {
		case <-rw.done:
			assert.NoError(t, rw.err, "machine B's worker stops at down")
		case <-ctx.Done():
			require.FailNow(t, "a worker of machine B did not stop at down")
		}
	}
	m.a2.assertNothingLeft(ctx)
}

// TestNATSWorkerNobodyAdoptsJoinsAgainAfterOrphanAfter: a worker that
// joined through NATS runs on when its leader dies, but not forever: when
// no leader adopted it within --orphan-after it joins again, empty, and a
// leader that comes later takes it in (the same process).
func TestNATSWorkerNobodyAdoptsJoinsAgainAfterOrphanAfter(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts three NATS servers, coordinator and worker processes (make test runs it)")
	}
	const name = "lone"
	urls, seed, _ := cluster.StartNATSCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	a := newClusterProcs(t, 1, -1)
	a.nats, a.creds, a.name, a.tls, a.orphan = urls, seed, name, certs, 2*time.Second
	leader := a.start(ctx)
	cl, err := cluster.Dial(ctx, cluster.DialConfig{NATS: urls, NATSCreds: seed, Name: name})
	require.NoError(t, err)
	defer cl.Close()
	secret := filepath.Join(a.dir, "secret")
	b := startNATSWorker(t, urls, seed, name, certs, secret)
	workersOf(t, ctx, cl, 2)

	leader.kill9(t)
	waitFor(t, ctx, "the worker of machine B to give up waiting for a leader", func() bool {
		return strings.Contains(b.out.String(), "no leader adopted this worker")
	})
	select {
	case <-b.done:
		require.FailNow(t, "the worker of machine B exited instead of joining again", "%v", b.err)
	default:
	}

	a2 := newClusterProcs(t, 1, -1)
	a2.nats, a2.creds, a2.name, a2.tls = urls, seed, name, certs
	s, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(a2.dir, "secret"), s, 0o600))
	a2.start(ctx)
	waitFor(t, ctx, "the worker of machine B to join the new leader", func() bool {
		st, err := cl.Status(ctx)
		if err != nil {
			return false
		}
		for _, w := range st.Workers {
			if w.Pid == b.cmd.Process.Pid {
				return true
			}
		}
		return false
	})
	require.NoError(t, cl.Down(ctx))
	select {
	case <-b.done:
		assert.NoError(t, b.err, "machine B's worker stops at down")
	case <-ctx.Done():
		require.FailNow(t, "the worker of machine B did not stop at down")
	}
}
