package cluster_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"os/exec"
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

// The tests here run a worker "on another machine": a separate process in
// a folder of its own, which knows only the coordinator's TCP address, the
// certificates and a copy of the secret. The cluster directory is given to
// the coordinator as a relative path, as `cluster up` is usually run
// (--data data/cluster): its unix socket paths mean nothing in the remote
// worker's folder.

// remoteWorker is a worker process that joined over TCP.
type remoteWorker struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it has exited; err is then set
	err  error
}

// startRemoteWorker starts this test binary as a worker joining addr, in
// a temporary folder of its own. It is killed at the end of the test if
// still running.
func startRemoteWorker(t *testing.T, addr, certs, secretFile string) *remoteWorker {
	t.Helper()
	return startWorkerProcess(t, "remote worker", certs, secretFile, nil, envJoin+"="+addr)
}

// startWorkerProcess starts this test binary as a worker in a folder of
// its own ("another machine"), holding a copy of the cluster's secret and
// what prepare writes there, with env added to its environment. It is
// killed at the end of the test if still running; its output is logged if
// the test failed.
func startWorkerProcess(t *testing.T, what, certs, secretFile string, prepare func(home string), env ...string) *remoteWorker {
	t.Helper()
	home := t.TempDir()
	secret, err := os.ReadFile(secretFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(home, "secret"), secret, 0o600))
	if prepare != nil {
		prepare(home)
	}
	rw := &remoteWorker{out: &syncBuffer{}, done: make(chan struct{})}
	rw.cmd = exec.Command(os.Args[0], "-test.run=^$")
	rw.cmd.Dir = home
	rw.cmd.Env = append(append(os.Environ(), envWorker+"=1", envTLS+"="+certs, envSecret+"=secret"), env...)
	rw.cmd.Stdout, rw.cmd.Stderr = rw.out, rw.out
	require.NoError(t, rw.cmd.Start())
	go func() {
		rw.err = rw.cmd.Wait()
		close(rw.done)
	}()
	t.Cleanup(func() {
		_ = rw.cmd.Process.Kill()
		<-rw.done
		if t.Failed() {
			t.Logf("%s output:\n%s", what, rw.out)
		}
	})
	return rw
}

// relativeDir makes the test run in a new temporary folder and returns a
// cluster directory relative to it, as `cluster up --data data/cluster`
// has.
func relativeDir(t *testing.T) string {
	t.Helper()
	t.Chdir(shortDir(t))
	return "data"
}

// tlsCluster starts n local workers on a relative cluster directory, with
// the coordinator listening on loopback TCP with mutual TLS.
func tlsCluster(t *testing.T, n int, tweak func(*cluster.Config)) (c *cluster.Coordinator, ctx context.Context, certs string) {
	t.Helper()
	certs = filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil))
	tlsCfg, err := ipc.LoadTLSConfig(certs)
	require.NoError(t, err)
	dir := relativeDir(t)
	c, ctx = startCluster(t, n, func(cfg *cluster.Config) {
		cfg.Dir = dir
		cfg.Listen, cfg.TLS = "127.0.0.1:0", tlsCfg
		cfg.WorkerCommand = testWorkerCommand(dir, certs)
		if tweak != nil {
			tweak(cfg)
		}
	})
	return c, ctx, certs
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			require.FailNow(t, "timed out waiting: "+what)
		case <-tk.C:
		}
	}
}

// workersOf waits until the cluster has n ready workers and returns them.
func workersOf(t *testing.T, ctx context.Context, c cluster.API, n int) []cluster.WorkerStats {
	t.Helper()
	var st cluster.Status
	waitFor(t, ctx, strconv.Itoa(n)+" workers", func() bool {
		var err error
		st, err = c.Status(ctx)
		return err == nil && len(st.Workers) == n && st.Answering() == n
	})
	return st.Workers
}

// onWorker returns a running Work tasklet on worker node.
func onWorker(t *testing.T, ctx context.Context, c cluster.API, node uint16) tasklet.ID {
	t.Helper()
	ps, err := c.PS(ctx)
	require.NoError(t, err)
	for _, v := range ps {
		if v.Worker == node && v.Kind == "test.work" {
			return v.ID
		}
	}
	require.FailNow(t, "no work tasklet runs on worker "+strconv.Itoa(int(node)), "%+v", ps)
	return 0
}

func TestRemoteWorkerInItsOwnFolderThroughTheWholeCycle(t *testing.T) {
	c, ctx, certs := tlsCluster(t, 2, nil)
	rw := startRemoteWorker(t, c.Addr(), certs, filepath.Join(c.Dir(), "secret"))
	ws := workersOf(t, ctx, c, 3)
	remote := ws[2].Node
	require.Equal(t, rw.cmd.Process.Pid, ws[2].Pid, "the third worker is the remote one")

	// Spawn: a collector on a local worker, work on every worker; digests
	// cross TCP both ways.
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": "9"}})
	require.NoError(t, err)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 9, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": "6000", "per_step": "200"}})
	require.NoError(t, err)
	spawnedOn := map[uint16]int{}
	for _, s := range res.Tasklets {
		spawnedOn[s.Worker]++
	}
	assert.Equal(t, 3, spawnedOn[remote], "round robin gives the remote worker its share")

	// Migrate both ways.
	out := onWorker(t, ctx, c, remote)
	mv, err := c.Migrate(ctx, out, 1)
	require.NoError(t, err, "migrate from the remote worker to a local one")
	assert.Equal(t, fromTo(remote, 1), [2]uint16{mv.From, mv.To})
	in := onWorker(t, ctx, c, 2)
	mv, err = c.Migrate(ctx, in, remote)
	require.NoError(t, err, "migrate from a local worker to the remote one")
	assert.Equal(t, fromTo(2, remote), [2]uint16{mv.From, mv.To})
	v, err := c.Inspect(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, remote, v.Worker)

	// Checkpoint: every worker, the remote one included, takes part.
	cp, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, cp.Workers)

	// kill -9 of the remote worker: the cluster rolls back onto its local
	// workers and still gets the exact result.
	v, err = c.Inspect(ctx, col.Tasklets[0].ID)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the kill: make it longer")
	require.NoError(t, rw.cmd.Process.Signal(syscall.SIGKILL))
	<-rw.done
	waitFor(t, ctx, "the rollback", func() bool {
		st, err := c.Status(ctx)
		return err == nil && st.Rollbacks >= 1 && len(st.Workers) == 2 && st.Answering() == 2
	})
	// A new remote worker joins the recovered cluster, and joins again by
	// itself after a restore.
	rw2 := startRemoteWorker(t, c.Addr(), certs, filepath.Join(c.Dir(), "secret"))
	ws = workersOf(t, ctx, c, 3)
	assert.Equal(t, rw2.cmd.Process.Pid, ws[2].Pid)
	_, err = c.Restore(ctx, 0, 0)
	require.NoError(t, err)
	waitFor(t, ctx, "the remote worker to join again after the restore", func() bool {
		st, err := c.Status(ctx)
		return err == nil && len(st.Workers) == 3 && st.Answering() == 3 && st.Workers[2].Pid == rw2.cmd.Process.Pid &&
			strings.Contains(rw2.out.String(), "joining again")
	})
	xor, got := collected(t, ctx, c, col.Tasklets[0].ID)
	assert.Equal(t, 9, got)
	want := uint64(0)
	for _, s := range res.Tasklets {
		want ^= expectedDigest(uint64(s.ID), 6000*200)
	}
	assert.Equal(t, want, xor, "the result of an uninterrupted run")
	assert.NotContains(t, rw.out.String(), "no such file", "the remote worker never dials the coordinator's unix sockets")

	// Down: a final checkpoint with the remote worker, which then exits 0.
	// (startCluster's clean-up checks that no local worker and no socket
	// is left.)
	require.NoError(t, c.Close())
	select {
	case <-rw2.done:
		assert.NoError(t, rw2.err, "the remote worker stops when the cluster goes down")
	case <-ctx.Done():
		require.FailNow(t, "the remote worker did not stop after down")
	}
}

// fromTo is a migration's (from, to), for comparing.
func fromTo(from, to uint16) [2]uint16 { return [2]uint16{from, to} }

func TestAWorkerAskedToStopLeavesWithoutARollback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		joined bool // a worker that joined over TCP, or a local one
	}{
		{"joined over TCP", true},
		{"local", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locals := 2
			if tc.joined {
				locals = 1
			}
			c, ctx, certs := tlsCluster(t, locals, nil)
			var rw *remoteWorker
			if tc.joined {
				rw = startRemoteWorker(t, c.Addr(), certs, filepath.Join(c.Dir(), "secret"))
			}
			ws := workersOf(t, ctx, c, 2)
			leaver := ws[1]
			col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: ws[0].Node,
				Args: map[string]string{"in": "@chan", "want": "4"}})
			require.NoError(t, err)
			res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 4, Worker: leaver.Node, Args: map[string]string{
				"out": col.Tasklets[0].Channels["in"].String(), "rounds": "6000", "per_step": "200"}})
			require.NoError(t, err)
			v, err := c.Inspect(ctx, col.Tasklets[0].ID)
			require.NoError(t, err)
			require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the leave: make it longer")
			before, err := c.Status(ctx)
			require.NoError(t, err)

			require.NoError(t, syscall.Kill(leaver.Pid, syscall.SIGTERM))
			if rw != nil {
				select {
				case <-rw.done:
				case <-ctx.Done():
					require.FailNow(t, "the joined worker did not exit after SIGTERM")
				}
				assert.NoError(t, rw.err, "the worker left cleanly (exit 0)")
			}
			waitFor(t, ctx, "the worker to leave", func() bool {
				st, err := c.Status(ctx)
				return err == nil && st.Left == 1 && len(st.Workers) == 1 && st.Answering() == 1
			})
			xor, got := collected(t, ctx, c, col.Tasklets[0].ID)
			assert.Equal(t, 4, got)
			want := uint64(0)
			for _, s := range res.Tasklets {
				want ^= expectedDigest(uint64(s.ID), 6000*200)
			}
			assert.Equal(t, want, xor, "the result of an uninterrupted run")
			st, err := c.Status(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Rollbacks, "leaving is not a rollback")
			assert.Greater(t, st.LastGen, before.LastGen, "the hand-over took a checkpoint")
			assert.Len(t, st.Workers, 1)
			assert.NotEqual(t, leaver.Pid, st.Workers[0].Pid)
		})
	}
}

func TestJoiningFailsFastOnWhatCannotHealAndRetriesTheRest(t *testing.T) {
	c, ctx, certs := tlsCluster(t, 1, nil)
	addr := c.Addr()
	secret, err := ipc.LoadSecret(filepath.Join(c.Dir(), "secret"))
	require.NoError(t, err)
	good, err := ipc.LoadTLSConfig(certs)
	require.NoError(t, err)
	other := filepath.Join(t.TempDir(), "other")
	require.NoError(t, ipc.GenerateCerts(other, nil)) // another cluster's CA
	otherTLS, err := ipc.LoadTLSConfig(other)
	require.NoError(t, err)
	// This worker trusts the cluster's CA but presents another CA's certificate.
	mixed := filepath.Join(t.TempDir(), "mixed")
	require.NoError(t, os.Mkdir(mixed, 0o700))
	for dir, files := range map[string][]string{certs: {ipc.CACertFile}, other: {ipc.NodeCertFile, ipc.NodeKeyFile}} {
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(mixed, f), b, 0o600))
		}
	}
	mixedTLS, err := ipc.LoadTLSConfig(mixed)
	require.NoError(t, err)
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, tc := range []struct {
		name     string
		addr     string
		tls      *tls.Config
		secret   []byte
		says     []string
		attempts int // logged retries
	}{
		{"the coordinator's certificate from another CA", addr, otherTLS, secret, []string{addr, "CA"}, 0},
		{"this worker's certificate from another CA", addr, mixedTLS, secret, []string{addr, "refused this worker's TLS certificate"}, 0},
		{"wrong secret", addr, good, []byte("not the secret of this cluster"), []string{addr, "--secret"}, 0},
		{"nothing listens", closed, good, secret, []string{closed, "3 attempts"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			start := time.Now()
			err := cluster.RunJoinedWorker(ctx, cluster.WorkerConfig{Join: tc.addr, TLS: tc.tls, Secret: tc.secret, Listen: "127.0.0.1:0",
				JoinAttempts: 3, JoinBackoff: 50 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))})
			require.ErrorIs(t, err, cluster.ErrCannotJoin)
			for _, s := range tc.says {
				assert.ErrorContains(t, err, s)
			}
			assert.Equal(t, tc.attempts, strings.Count(log.String(), "joining failed"), "retries logged once each:\n%s", &log)
			assert.NotContains(t, log.String(), "link refused", "the failure is reported once, by the error")
			if tc.attempts == 0 {
				assert.Less(t, time.Since(start), 10*time.Second, "no retry")
			}
		})
	}
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Len(t, st.Workers, 1, "no worker joined")
}

// A worker that joins but cannot be linked to its peers is sent away with
// the reason; before, it stayed in the cluster unlinked and every
// checkpoint failed from then on.
func TestAWorkerThatCannotBeLinkedInIsSentAway(t *testing.T) {
	c, ctx, certs := tlsCluster(t, 1, nil)
	tlsCfg, err := ipc.LoadTLSConfig(certs)
	require.NoError(t, err)
	secret, err := ipc.LoadSecret(filepath.Join(c.Dir(), "secret"))
	require.NoError(t, err)
	quiet := slog.New(slog.DiscardHandler)
	// A announces an address nobody can reach; it links in, since it dials
	// the workers already there itself.
	aDone := make(chan error, 1)
	go func() {
		aDone <- cluster.RunJoinedWorker(ctx, cluster.WorkerConfig{Join: c.Addr(), TLS: tlsCfg, Secret: secret,
			Listen: "127.0.0.1:0", Advertise: "127.0.0.1:1", Log: quiet})
	}()
	workersOf(t, ctx, c, 2)
	// B must dial A at that address, and cannot.
	err = cluster.RunJoinedWorker(ctx, cluster.WorkerConfig{Join: c.Addr(), TLS: tlsCfg, Secret: secret,
		Listen: "127.0.0.1:0", JoinAttempts: 2, JoinBackoff: 10 * time.Millisecond, Log: quiet})
	require.ErrorIs(t, err, cluster.ErrNotLinked)
	assert.ErrorIs(t, err, cluster.ErrCannotJoin)
	assert.ErrorContains(t, err, "127.0.0.1:1", "it says which peer it could not reach")

	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Len(t, st.Workers, 2, "B is not part of the cluster")
	_, err = c.Checkpoint(ctx)
	assert.NoError(t, err, "checkpoints still work")
	require.NoError(t, c.Close())
	assert.NoError(t, <-aDone)
}
