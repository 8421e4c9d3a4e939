package cluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/tasklet"
)

// Two "machines": A runs the coordinator and its local workers in a
// folder of its own; B, in another folder (so another host ID), runs
// workers that know only the NATS servers' URLs, the NATS credentials,
// the certificates and the secret. The NATS servers are three clustered
// ones on loopback, started by the test.

// startNATSWorker starts this test binary as a worker joining the cluster
// named name ("": the default) through the NATS servers urls with the
// credentials file creds, in a folder of its own ("machine B"). It is
// killed at the end of the test if still running. env is added to its
// environment.
func startNATSWorker(t *testing.T, urls, creds, name, certs, secretFile string, env ...string) *remoteWorker {
	t.Helper()
	seed, err := os.ReadFile(creds)
	require.NoError(t, err)
	return startWorkerProcess(t, "NATS worker", certs, secretFile, func(home string) {
		require.NoError(t, os.WriteFile(filepath.Join(home, "user.seed"), seed, 0o600))
	}, append([]string{envWorkerNATS + "=" + urls, envWorkerCreds + "=user.seed", envWorkerName + "=" + name}, env...)...)
}

// The cluster has a name (--name east), so every bucket and the join
// subject its workers use are its own: the default cluster's stay empty.
func TestNATSWorkersOnAnotherMachineThroughTheWholeCycle(t *testing.T) {
	const name = "east"
	urls, seed, _ := cluster.StartNATSCluster(t, 3)
	c, ctx, certs := tlsCluster(t, 2, func(cfg *cluster.Config) {
		cfg.NATS, cfg.NATSCreds, cfg.Name = urls, seed, name
		cfg.BalanceEvery = -1 // what the restores place stays there, to be checked
	})
	// Two restores each redo the work since their checkpoint, on 3 or 4
	// workers; with -race on a loaded machine that outlasts testTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*testTimeout)
	t.Cleanup(cancel)
	secret := filepath.Join(c.Dir(), "secret")
	b1 := startNATSWorker(t, urls, seed, name, certs, secret)
	b2 := startNATSWorker(t, urls, seed, name, certs, secret)
	ws := workersOf(t, ctx, c, 4)
	var remote []uint16
	for _, w := range ws {
		if w.Pid == b1.cmd.Process.Pid || w.Pid == b2.cmd.Process.Pid {
			remote = append(remote, w.Node)
		}
	}
	require.Len(t, remote, 2, "both workers of machine B joined: %+v", ws)
	_, _, members, err := cluster.StoreContents(ctx, urls, seed, name)
	require.NoError(t, err)
	slices.Sort(members)
	assert.Equal(t, []uint16{1, 2, remote[0], remote[1]}, members, "every worker registered in the members bucket")

	// Spawn: a collector on a local worker, work on every worker; digests
	// cross TCP+TLS between the machines both ways. The work must outlast
	// both migrations and the restore (8000 rounds once ended before the
	// second migration, on a faster scheduler).
	const rounds = 24000
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": "8"}})
	require.NoError(t, err)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 8, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": itoa(rounds), "per_step": "200"}})
	require.NoError(t, err)
	on := map[uint16]int{}
	for _, s := range res.Tasklets {
		on[s.Worker]++
	}
	assert.Equal(t, 2, on[remote[0]], "round robin gives machine B's workers their share")

	// Migrate both ways between the machines.
	out := onWorker(t, ctx, c, remote[0])
	mv, err := c.Migrate(ctx, out, 2)
	require.NoError(t, err, "migrate from machine B to machine A")
	assert.Equal(t, fromTo(remote[0], 2), [2]uint16{mv.From, mv.To})
	in := onWorker(t, ctx, c, 1)
	mv, err = c.Migrate(ctx, in, remote[1])
	require.NoError(t, err, "migrate from machine A to machine B")
	assert.Equal(t, fromTo(1, remote[1]), [2]uint16{mv.From, mv.To})

	// Checkpoint: every worker stores its own world.
	cp, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, cp.Workers)
	objects, gens, _, err := cluster.StoreContents(ctx, urls, seed, name)
	require.NoError(t, err)
	require.Contains(t, gens, cp.Gen)
	for _, n := range append([]uint16{1, 2}, remote...) {
		assert.Contains(t, objects, "g"+itoa(cp.Gen)+"/w"+itoa(uint64(n)), "the world of worker %d is stored", n)
	}
	objects, gens, members, err = cluster.StoreContents(ctx, urls, seed, "")
	require.NoError(t, err)
	assert.Empty(t, objects, "worlds in the default cluster's bucket")
	assert.Empty(t, gens, "generations in the default cluster's bucket")
	assert.Empty(t, members, "workers in the default cluster's members bucket")

	// Restore onto a different number of workers on each machine: a
	// third worker joins on machine B, and the restore onto 4 workers
	// uses the 3 of machine B (every one alive is used) and starts 1 on
	// machine A. Machine B's workers hold their worlds as soon as the
	// restore returns (the balancer is off: nothing else moves them).
	b3 := startNATSWorker(t, urls, seed, name, certs, secret)
	bPids := map[int]bool{b1.cmd.Process.Pid: true, b2.cmd.Process.Pid: true, b3.cmd.Process.Pid: true}
	workersOf(t, ctx, c, 5)
	v, err := c.Inspect(ctx, col.Tasklets[0].ID)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the restore: make it longer")
	rr, err := c.Restore(ctx, 0, 4)
	require.NoError(t, err)
	assert.Equal(t, cp.Gen, rr.Gen)
	assert.Len(t, rr.Workers, 4)
	assert.Len(t, rr.Remote, 3, "machine B's three workers took worlds: %+v", rr)
	onB := heldOnB(t, ctx, c, bPids)
	assert.Len(t, onB, 3, "machine B's three workers are part of the restored cluster")
	for pid, n := range onB {
		assert.Positive(t, n, "the machine B worker (pid %d) holds tasklets right after the restore", pid)
	}
	objects, _, _, err = cluster.StoreContents(ctx, urls, seed, name)
	require.NoError(t, err)
	for _, o := range objects {
		assert.False(t, strings.HasPrefix(o, "restore/"), "a world staged for the restore is left: %s", o)
	}
	st, err := c.Status(ctx)
	require.NoError(t, err)
	var onA uint16
	for _, w := range st.Workers {
		if !bPids[w.Pid] {
			onA = w.Node
		}
	}
	require.NotZero(t, onA, "machine A runs a worker: %+v", st.Workers)
	for _, l := range []uint16{1, 2, remote[0], remote[1]} {
		assert.Contains(t, rr.Workers, st.Routes[l], "logical node %d is routed to a worker of the restore: %v", l, st.Routes)
	}
	// The main collector now runs on machine B (its world went there), so
	// the digests cross from machine A to B; this one crosses from B to A.
	colA, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: onA,
		Args: map[string]string{"in": "@chan", "want": "1"}})
	require.NoError(t, err)
	toA, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 1, Worker: rr.Remote[0], Args: map[string]string{
		"out": colA.Tasklets[0].Channels["in"].String(), "rounds": "50", "per_step": "200"}})
	require.NoError(t, err)

	// kill -9 of a machine B worker: the rollback restores the newest
	// checkpoint (taken across both machines) onto machine A's worker and
	// the two of machine B that are left.
	cp2, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, cp2.Workers)
	v, err = c.Inspect(ctx, col.Tasklets[0].ID)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the kill: make it longer")
	require.NoError(t, b3.cmd.Process.Kill())
	<-b3.done
	delete(bPids, b3.cmd.Process.Pid)
	waitFor(t, ctx, "the rollback onto the workers left", func() bool {
		st, err := c.Status(ctx)
		return err == nil && st.Rollbacks == 1 && len(st.Workers) == 3 && st.Answering() == 3 && st.LastGen == cp2.Gen
	})
	onB = heldOnB(t, ctx, c, bPids)
	assert.Len(t, onB, 2, "machine B's two workers left are part of the rolled back cluster")
	for pid, n := range onB {
		assert.Positive(t, n, "the machine B worker (pid %d) holds tasklets right after the rollback", pid)
	}

	xor, got := collected(t, ctx, c, col.Tasklets[0].ID)
	assert.Equal(t, 8, got)
	want := uint64(0)
	for _, s := range res.Tasklets {
		want ^= expectedDigest(uint64(s.ID), rounds*200)
	}
	assert.Equal(t, want, xor, "the result of an uninterrupted run")
	xor, got = collected(t, ctx, c, colA.Tasklets[0].ID)
	assert.Equal(t, 1, got)
	assert.Equal(t, expectedDigest(uint64(toA.Tasklets[0].ID), 50*200), xor, "the digest from machine B to machine A")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Rollbacks, "the kill -9 of the machine B worker, and no other")

	// Down: machine B's workers stop (exit 0) and leave no entry; machine
	// A leaves no record (startCluster's clean-up checks sockets and
	// processes).
	require.NoError(t, c.Close())
	for _, b := range []*remoteWorker{b1, b2} { // b3 was killed
		select {
		case <-b.done:
			assert.NoError(t, b.err, "a NATS worker stops when the cluster goes down")
		case <-ctx.Done():
			require.FailNow(t, "a NATS worker did not stop after down")
		}
	}
	// A worker removes its entry as it stops; one that could not (killed
	// at the end of its grace) has its entry expire within the TTL (3 s).
	gone := time.Now().Add(10 * time.Second)
	for {
		_, _, members, err = cluster.StoreContents(ctx, urls, seed, name)
		require.NoError(t, err)
		if len(members) == 0 || time.Now().After(gone) {
			break
		}
		tk := time.NewTimer(100 * time.Millisecond)
		<-tk.C
	}
	assert.Empty(t, members, "entries left in the members bucket")
	records, err := os.ReadDir(filepath.Join(c.Dir(), "run"))
	if err == nil {
		assert.Empty(t, records, "worker records left behind")
	}
}

// heldOnB is how many tasklets each worker of machine B (by pid) holds
// now: one status call, so it is what the last restore placed when the
// balancer is off.
func heldOnB(t *testing.T, ctx context.Context, c cluster.API, pids map[int]bool) map[int]int {
	t.Helper()
	st, err := c.Status(ctx)
	require.NoError(t, err)
	out := map[int]int{}
	for _, w := range st.Workers {
		if pids[w.Pid] {
			out[w.Pid] = w.Tasklets
		}
	}
	return out
}

// A worker on another machine that does not come back when the restore
// tells it to join again (its machine is lost right then) makes the
// restore fail within the start timeout, naming it; nothing is left half
// started, and a restore onto the leader's machine alone then works.
func TestRestoreFailsCleanlyWhenARemoteWorkerDoesNotComeBack(t *testing.T) {
	const startTimeout = 20 * time.Second
	urls, seed, _ := cluster.StartNATSCluster(t, 1)
	c, ctx, certs := tlsCluster(t, 1, func(cfg *cluster.Config) {
		cfg.NATS, cfg.NATSCreds, cfg.StartTimeout = urls, seed, startTimeout
	})
	b := startNATSWorker(t, urls, seed, "", certs, filepath.Join(c.Dir(), "secret"), envNoRejoin+"=1")
	ws := workersOf(t, ctx, c, 2)
	require.Equal(t, b.cmd.Process.Pid, ws[1].Pid, "the second worker is machine B's")
	col, want := spawnWork(t, ctx, c, 4, 400, 10)
	_, err := c.Checkpoint(ctx)
	require.NoError(t, err)

	start := time.Now()
	_, err = c.Restore(ctx, 0, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not come back within "+startTimeout.String())
	assert.Contains(t, err.Error(), "workers [2] on other machines")
	assert.Less(t, time.Since(start), 3*startTimeout, "it waits for the start timeout, not forever")
	select {
	case <-b.done:
	case <-ctx.Done():
		require.FailNow(t, "the worker told to join again did not exit")
	}
	var ee *exec.ExitError
	require.ErrorAs(t, b.err, &ee)
	require.Equal(t, 3, ee.ExitCode(), "it exited where the test makes it")

	rr, err := c.Restore(ctx, 0, 1)
	require.NoError(t, err, "a restore onto the leader's machine alone")
	assert.Empty(t, rr.Remote)
	assert.Len(t, workersOf(t, ctx, c, 1), 1)
	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
}

// A worker whose NATS credentials the servers refuse says so and exits 1
// at once, instead of retrying.
func TestNATSWorkerWithWrongCredentialsIsRefusedFast(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a worker process")
	}
	urls, _, _ := cluster.StartNATSCluster(t, 1)
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	secret := filepath.Join(t.TempDir(), "secret")
	_, err := cluster.EnsureSecret(secret)
	require.NoError(t, err)
	wrong := filepath.Join(t.TempDir(), "wrong.seed")
	err = cluster.NewNATSSeed(wrong)
	require.NoError(t, err)
	start := time.Now()
	w := startNATSWorker(t, urls, wrong, "", certs, secret)
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		require.FailNow(t, "the worker with wrong credentials still runs")
	}
	var ee *exec.ExitError
	require.ErrorAs(t, w.err, &ee, "output: %s", w.out)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Less(t, time.Since(start), 20*time.Second, "it gives up at once")
	assert.Contains(t, w.out.String(), "refused this worker's credentials")
	assert.Contains(t, w.out.String(), urls, "it names the NATS servers")
	assert.Equal(t, 1, strings.Count(strings.ToLower(w.out.String()), "authorization violation"), "tried once: %s", w.out)
}

// A worker that cannot store its world makes the checkpoint fail: the
// generation is not committed and the objects the others stored are
// removed.
func TestCheckpointIsNotCommittedWhenAWorkerCannotStoreItsWorld(t *testing.T) {
	urls, seed, _ := cluster.StartNATSCluster(t, 1)
	noPut := filepath.Join(t.TempDir(), "noput")
	t.Setenv(envNoPut, noPut)
	c, ctx := startCluster(t, 3, func(cfg *cluster.Config) { cfg.NATS, cfg.NATSCreds = urls, seed })
	good, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(noPut+".w2", nil, 0o600))

	_, err = c.Checkpoint(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not committed")
	assert.Contains(t, err.Error(), "worker 2")
	objects, gens, _, err := cluster.StoreContents(ctx, urls, seed, "")
	require.NoError(t, err)
	assert.Equal(t, good.Gen, gens[len(gens)-1], "no newer generation is committed")
	for _, o := range objects {
		assert.True(t, strings.HasPrefix(o, "g") && !strings.HasPrefix(o, "g"+itoa(good.Gen+1)+"/"), "an object of the failed generation is left: %s", o)
	}

	require.NoError(t, os.Remove(noPut+".w2"))
	next, err := c.Checkpoint(ctx)
	require.NoError(t, err, "the next checkpoint stores every world again")
	assert.Greater(t, next.Gen, good.Gen)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Rollbacks)
	assert.Len(t, st.Workers, 3)
}

// A worker killed while it stores its world: the checkpoint says the
// generation was not committed, which one stays the newest, that the
// cluster rolls back to it and what to do (it said only `control
// "w.snapshot" on node 2: ipc: link to the node went down`).
func TestCheckpointCutByAWorkersDeathSaysWhatToDo(t *testing.T) {
	urls, seed, _ := cluster.StartNATSCluster(t, 1)
	die := filepath.Join(t.TempDir(), "die")
	t.Setenv(envDiePut, die)
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.NATS, cfg.NATSCreds = urls, seed })
	good, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(die+".w2", nil, 0o600))

	_, err = c.Checkpoint(ctx)
	require.Error(t, err)
	for _, want := range []string{
		"a worker went away during the checkpoint, so it was not committed",
		"generation " + itoa(good.Gen) + " stays the newest and the cluster rolls back to it",
		"`stackless cluster status`",
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, gens, _, err := cluster.StoreContents(ctx, urls, seed, "")
	require.NoError(t, err)
	assert.Equal(t, good.Gen, gens[len(gens)-1], "no newer generation is committed")

	// The rollback brings worker 2 back; then checkpoints work again.
	require.NoError(t, os.Remove(die+".w2"))
	require.Eventually(t, func() bool {
		st, err := c.Status(ctx)
		return err == nil && st.Rollbacks == 1 && len(st.Workers) == 2 && st.Answering() == 2 && st.State == "running"
	}, 60*time.Second, 50*time.Millisecond, "the cluster rolls back")
	next, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Greater(t, next.Gen, good.Gen)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
