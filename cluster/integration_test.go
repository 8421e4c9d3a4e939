package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

func TestPingPongAndSelectAcrossProcesses(t *testing.T) {
	c, ctx := startCluster(t, 3, nil)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 3)

	pong, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "ponger", Count: 1, Worker: 1,
		Args: map[string]string{"ina": "@chan", "inb": "@chan", "outa": "@chan", "outb": "@chan"}})
	require.NoError(t, err)
	chans := pong.Tasklets[0].Channels
	const n = 50
	var pingers []tasklet.ID
	for i, k := range []string{"a", "b"} {
		res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "pinger", Count: 1, Worker: uint16(2 + i),
			Args: map[string]string{"out": chans["in"+k].String(), "in": chans["out"+k].String(), "n": "50"}})
		require.NoError(t, err)
		pingers = append(pingers, res.Tasklets[0].ID)
	}
	for i, id := range pingers {
		v, err := c.Await(ctx, id)
		require.NoError(t, err)
		var p struct{ Sum, I int }
		require.NoError(t, json.Unmarshal(v.Fields, &p))
		assert.Equal(t, n*(n+1), p.Sum, "pinger %d: every answer is twice what it sent", i)
		assert.Equal(t, uint16(2+i), v.Worker)
	}
	var pg struct{ Served int }
	v, err := c.Inspect(ctx, pong.Tasklets[0].ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(v.Fields, &pg))
	assert.Equal(t, 2*n, pg.Served)
}

// pipeline spawns sink ← mapper ← source over three workers (w1, w2, w3;
// fewer workers wrap around) and returns the sink and the mapper. The
// source holds back the 0 that ends the stream until open is called (again
// after each restore of a world saved before that), so what a test does
// mid-run happens mid-run however fast the values flow: an ungated
// pipeline of 4000 values ended before 6 migrations in 1 run of 20.
func pipeline(t *testing.T, ctx context.Context, c cluster.API, n int, workers int) (sink, mapper tasklet.ID, open func()) {
	t.Helper()
	on := func(i int) uint16 { return uint16(i%workers + 1) }
	s, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 1, Worker: on(0), Args: map[string]string{"in": "@chan"}})
	require.NoError(t, err)
	m, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "mapper", Count: 1, Worker: on(1),
		Args: map[string]string{"in": "@chan", "out": s.Tasklets[0].Channels["in"].String()}})
	require.NoError(t, err)
	src, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "source", Count: 1, Worker: on(2),
		Args: map[string]string{"out": m.Tasklets[0].Channels["in"].String(), "gate": "@chan", "n": strconv.Itoa(n)}})
	require.NoError(t, err)
	gate := src.Tasklets[0].Channels["gate"].String()
	open = func() {
		t.Helper()
		_, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "source", Count: 1, Worker: 1, Args: map[string]string{"out": gate, "n": "0"}})
		require.NoError(t, err, "open the gate")
	}
	return s.Tasklets[0].ID, m.Tasklets[0].ID, open
}

// sinkResult is what a finished Sink holds.
type sinkResult struct {
	N    int
	Hash uint64
	Done bool
}

// localPipeline runs the same pipeline in one scheduler: the reference.
func localPipeline(t *testing.T, n int) sinkResult {
	t.Helper()
	s := scheduler.New()
	a, b := s.NewChannel(0), s.NewChannel(0)
	sink := &Sink{In: b}
	s.Spawn(sink)
	s.Spawn(&Mapper{In: a, Out: b})
	s.Spawn(&Source{Out: a, N: n})
	require.NoError(t, s.Run(context.Background()))
	require.True(t, sink.Done)
	return sinkResult{N: sink.N, Hash: sink.Hash, Done: true}
}

func awaitSink(t *testing.T, ctx context.Context, c cluster.API, id tasklet.ID) sinkResult {
	t.Helper()
	v, err := c.Await(ctx, id)
	require.NoError(t, err)
	var r sinkResult
	require.NoError(t, json.Unmarshal(v.Fields, &r))
	return r
}

func TestMigrationMidRunMatchesOneProcess(t *testing.T) {
	const n = 4000
	want := localPipeline(t, n)
	c, ctx := startCluster(t, 2, nil)
	sink, mapper, open := pipeline(t, ctx, c, n, 2)
	blocked := 0
	for i := range 12 {
		id := mapper
		if i%3 == 2 {
			id = sink
		}
		v, err := c.Inspect(ctx, id)
		require.NoError(t, err)
		if v.State == tasklet.Blocked.String() {
			blocked++
		}
		to := uint16(3 - v.Worker)
		res, err := c.Migrate(ctx, id, to)
		require.NoError(t, err, "migration %d of %v", i, id)
		assert.Equal(t, to, res.To)
		v, err = c.Inspect(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, to, v.Worker, "the tasklet runs where it was moved")
	}
	v, err := c.Inspect(ctx, sink)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the pipeline ended before its gate opened")
	assert.Positive(t, blocked, "some migrations moved a blocked tasklet")
	open()
	got := awaitSink(t, ctx, c, sink)
	assert.Equal(t, want, got, "the same values in the same order as in one process")
}

func TestCheckpointRestoreOntoFewerAndMoreWorkers(t *testing.T) {
	const n = 3000
	want := localPipeline(t, n)
	c, ctx := startCluster(t, 3, nil)
	sink, mapper, open := pipeline(t, ctx, c, n, 3)
	// Move the mapper away from its birth node while it runs, so the
	// checkpoint holds a tasklet waiting on another world's channel.
	_, err := c.Migrate(ctx, mapper, 1)
	require.NoError(t, err)
	cp, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, cp.Workers)
	v, err := c.Inspect(ctx, sink)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the pipeline ended before its gate opened")
	open()
	got := awaitSink(t, ctx, c, sink)
	require.Equal(t, want, got, "an uninterrupted run")

	for _, m := range []int{2, 1, 4} {
		t.Run(strconv.Itoa(m)+" workers", func(t *testing.T) {
			res, err := c.Restore(ctx, cp.Gen, m)
			require.NoError(t, err)
			assert.Equal(t, cp.Gen, res.Gen)
			assert.Len(t, res.Workers, m)
			st, err := c.Status(ctx)
			require.NoError(t, err)
			assert.Len(t, st.Workers, m)
			hosts := map[uint16]bool{}
			for _, l := range []uint16{1, 2, 3} {
				w, ok := st.Routes[l]
				require.True(t, ok, "logical node %d is routed", l)
				hosts[w] = true
			}
			assert.Len(t, hosts, min(m, 3), "the three logical nodes live on min(m, 3) workers")
			open() // the checkpoint was taken before the gate opened
			assert.Equal(t, want, awaitSink(t, ctx, c, sink), "the restored run ends like the uninterrupted one")
		})
	}
}

// spawnWork starts a collector on worker 1 and `count` Work tasklets
// (seeded with their IDs) placed round robin; it returns the collector and
// a function computing the expected XOR of their digests directly (slow:
// call it after the moments that matter).
func spawnWork(t *testing.T, ctx context.Context, c cluster.API, count, rounds, perStep int) (tasklet.ID, func() uint64) {
	t.Helper()
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": strconv.Itoa(count)}})
	require.NoError(t, err)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: count, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": strconv.Itoa(rounds), "per_step": strconv.Itoa(perStep)}})
	require.NoError(t, err)
	require.Len(t, res.Tasklets, count)
	want := func() uint64 {
		var x uint64
		for _, s := range res.Tasklets {
			x ^= expectedDigest(uint64(s.ID), rounds*perStep)
		}
		return x
	}
	return col.Tasklets[0].ID, want
}

func collected(t *testing.T, ctx context.Context, c cluster.API, id tasklet.ID) (xor uint64, got int) {
	t.Helper()
	v, err := c.Await(ctx, id)
	require.NoError(t, err)
	var r struct {
		Xor uint64
		Got int
	}
	require.NoError(t, json.Unmarshal(v.Fields, &r))
	return r.Xor, r.Got
}

func TestKillNineRollsBackAndFinishesRight(t *testing.T) {
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.CheckpointEvery = 200 * time.Millisecond })
	col, want := spawnWork(t, ctx, c, 6, 3000, 200)
	_, err := c.Checkpoint(ctx) // mid-run (periodic ones run too)
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 2)
	victim := st.Workers[1]
	v, err := c.Inspect(ctx, col)
	require.NoError(t, err)
	require.NotEqual(t, tasklet.Paused.String(), v.State, "the work ended before the kill: make it longer")
	p, err := os.FindProcess(victim.Pid)
	require.NoError(t, err)
	require.NoError(t, p.Signal(syscall.SIGKILL))

	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 6, got)
	assert.Equal(t, want(), xor, "the result of an uninterrupted run")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.Rollbacks, 1)
	assert.Len(t, st.Workers, 2, "the dead worker was replaced")
	for _, w := range st.Workers {
		assert.NotEqual(t, victim.Pid, w.Pid)
	}
}

func TestBadInputs(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	dir := c.Dir()

	t.Run("wrong secret", func(t *testing.T) {
		_, err := cluster.Dial(ctx, cluster.DialConfig{Dir: dir, Secret: []byte("not the secret of this cluster")})
		require.Error(t, err)
		assert.ErrorIs(t, err, ipc.ErrAuth)
	})
	t.Run("garbage on the coordinator socket", func(t *testing.T) {
		for _, junk := range [][]byte{
			[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			bytes.Repeat([]byte{0xff}, 4096),
			append([]byte("STKL\x00\x01\x00\x05"), make([]byte, 200)...), // a HELLO, then a bogus proof
		} {
			conn, err := net.Dial("unix", filepath.Join(dir, "sock", "c"))
			require.NoError(t, err)
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			_, _ = conn.Write(junk)
			require.NoError(t, conn.(*net.UnixConn).CloseWrite()) // no more bytes: no waiting for them
			_, err = io.Copy(io.Discard, conn)                    // the coordinator hangs up
			assert.NoError(t, err, "the coordinator closes the connection instead of waiting")
			conn.Close()
		}
		cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: dir})
		require.NoError(t, err)
		defer cl.Close()
		st, err := cl.Status(ctx)
		require.NoError(t, err, "the coordinator still serves")
		assert.Len(t, st.Workers, 1)
	})
	t.Run("bad requests", func(t *testing.T) {
		before, err := c.PS(ctx)
		require.NoError(t, err)
		_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "no-such-kind", Count: 1})
		assert.ErrorIs(t, err, cluster.ErrUnknownSpawner)
		_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "pinger", Count: 3, Args: map[string]string{"out": "x", "in": "@chan"}})
		assert.ErrorContains(t, err, "out")
		_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 0})
		assert.Error(t, err)
		_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 1, Worker: 9, Args: map[string]string{"in": "@chan"}})
		assert.ErrorContains(t, err, "worker 9")
		_, err = c.Migrate(ctx, tasklet.ID(1<<48|12345), 1)
		assert.ErrorIs(t, err, cluster.ErrNoTasklet)
		_, err = c.Kill(ctx, tasklet.ID(1<<48|12345))
		assert.ErrorIs(t, err, cluster.ErrNoTasklet)
		_, err = c.Throw(ctx, tasklet.ID(1<<48|12345), "stop")
		assert.ErrorIs(t, err, cluster.ErrNoTasklet)
		_, err = c.Restore(ctx, 999, 1)
		assert.ErrorIs(t, err, store.ErrNotFound)
		cluster.LimitDescriptors(t, 64)
		_, err = c.Restore(ctx, 0, 5)
		assert.ErrorContains(t, err, "5 workers need about 74 file descriptors", "refused before the workers stop")
		after, err := c.PS(ctx)
		require.NoError(t, err)
		assert.Equal(t, before, after, "failed requests spawn nothing and leave the cluster running")
	})
}

func TestThrowReachesATaskletOnItsWorker(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: 2, Worker: 2, Args: map[string]string{"in": "@chan"}})
	require.NoError(t, err)
	require.Len(t, res.Tasklets, 2)
	before, err := c.Status(ctx)
	require.NoError(t, err)

	thrown, err := c.Throw(ctx, res.Tasklets[0].ID, "stop now")
	require.NoError(t, err)
	assert.Equal(t, cluster.ThrowResult{ID: res.Tasklets[0].ID, Worker: 2}, thrown)

	// A Sink fails with what is thrown into it, at its next step: it leaves,
	// its sibling stays.
	present := func() map[tasklet.ID]bool {
		ps, err := c.PS(ctx)
		require.NoError(t, err)
		ids := map[tasklet.ID]bool{}
		for _, v := range ps {
			ids[v.ID] = true
		}
		return ids
	}
	assert.Eventually(t, func() bool { return !present()[res.Tasklets[0].ID] }, testTimeout/2, 10*time.Millisecond,
		"the tasklet thrown into failed and left")
	assert.True(t, present()[res.Tasklets[1].ID], "the other sink runs on")
	after, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Greater(t, after.LastGen, before.LastGen, "a checkpoint follows the throw")
}

func TestWorkerJoinsOverTCPWithMutualTLS(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	require.NoError(t, ipc.GenerateCerts(certs, nil)) // localhost, 127.0.0.1, ::1
	tlsCfg, err := ipc.LoadTLSConfig(certs)
	require.NoError(t, err)
	c, ctx := startCluster(t, 1, func(cfg *cluster.Config) {
		cfg.Listen, cfg.TLS = "127.0.0.1:0", tlsCfg
		cfg.WorkerCommand = testWorkerCommand(cfg.Dir, certs) // local workers dial TCP peers too
	})
	addr := c.Addr()
	require.NotEmpty(t, addr)
	secret, err := ipc.LoadSecret(filepath.Join(c.Dir(), "secret"))
	require.NoError(t, err)

	// A worker "on another machine": this process, over loopback TCP.
	done := make(chan error, 1)
	go func() {
		done <- cluster.RunWorker(ctx, cluster.WorkerConfig{Join: addr, TLS: tlsCfg, Secret: secret, Listen: "127.0.0.1:0",
			Log: slog.New(slog.DiscardHandler)})
	}()
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Addr: addr, TLS: tlsCfg, Secret: secret})
	require.NoError(t, err, "a client over TCP with TLS")
	defer cl.Close()
	var st cluster.Status
	for len(st.Workers) < 2 { // the join completes in the background
		st, err = cl.Status(ctx)
		require.NoError(t, err)
		require.NoError(t, ctx.Err())
	}
	require.Len(t, st.Workers, 2)
	remote := st.Workers[1].Node
	assert.Equal(t, uint16(2), remote)

	pong, err := cl.Spawn(ctx, cluster.SpawnRequest{Kind: "ponger", Count: 1, Worker: 1,
		Args: map[string]string{"ina": "@chan", "inb": "@chan", "outa": "@chan", "outb": "@chan"}})
	require.NoError(t, err)
	ch := pong.Tasklets[0].Channels
	var ids []tasklet.ID
	for _, k := range []string{"a", "b"} {
		res, err := cl.Spawn(ctx, cluster.SpawnRequest{Kind: "pinger", Count: 1, Worker: remote,
			Args: map[string]string{"out": ch["in"+k].String(), "in": ch["out"+k].String(), "n": "20"}})
		require.NoError(t, err)
		ids = append(ids, res.Tasklets[0].ID)
	}
	for _, id := range ids {
		v, err := cl.Await(ctx, id)
		require.NoError(t, err)
		var p struct{ Sum int }
		require.NoError(t, json.Unmarshal(v.Fields, &p))
		assert.Equal(t, 20*21, p.Sum)
		assert.Equal(t, remote, v.Worker)
	}
	_, err = cluster.Dial(ctx, cluster.DialConfig{Addr: addr, Secret: secret})
	assert.Error(t, err, "TCP without TLS is refused")

	require.NoError(t, c.Close())
	assert.NoError(t, <-done, "the TCP worker stops when the cluster goes down")
}

func TestStartFailsWhenAWorkerCannotStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := shortDir(t)
	var out syncBuffer
	_, err := cluster.Start(ctx, cluster.Config{Dir: dir, Workers: 2, Output: &out, Log: slog.New(slog.DiscardHandler),
		WorkerCommand: func(node uint16) (*exec.Cmd, error) {
			return exec.Command("sh", "-c", "echo cannot start worker "+strconv.Itoa(int(node))+" >&2; exit 3"), nil
		}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited while starting")
	assert.Contains(t, out.String(), "cannot start worker")
	entries, err := os.ReadDir(filepath.Join(dir, "sock"))
	require.NoError(t, err)
	assert.Empty(t, entries)
	// The directory is free again: the database lock was released.
	c, ctx2 := startCluster(t, 1, func(cfg *cluster.Config) { cfg.Dir = dir; cfg.WorkerCommand = testWorkerCommand(dir, "") })
	st, err := c.Status(ctx2)
	require.NoError(t, err)
	assert.Len(t, st.Workers, 1)
}

func TestBalancerSpreadsCPUBoundWork(t *testing.T) {
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) { cfg.BalanceEvery = 50 * time.Millisecond })
	// Six CPU-bound tasklets, all on worker 1, that run until killed (their
	// result would go to a collector that waits for more).
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": "100"}})
	require.NoError(t, err)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 6, Worker: 1, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": "100000000", "per_step": "50"}})
	require.NoError(t, err)
	perWorker := func() map[uint16]int {
		ps, err := c.PS(ctx)
		require.NoError(t, err)
		n := map[uint16]int{}
		for _, v := range ps {
			if v.Kind == "test.work" {
				n[v.Worker]++
			}
		}
		return n
	}
	status := func() cluster.Status {
		st, err := c.Status(ctx)
		require.NoError(t, err)
		return st
	}
	// A moved tasklet shows in ps as soon as it lands on worker 2, a moment
	// before the coordinator reads the worker's reply and counts the move, so
	// wait for both.
	n, st := perWorker(), status()
	for n[2] < 3 || st.Migrations < 3 { // until the balancer has moved half of them
		require.NoError(t, ctx.Err(), "the balancer never spread the work: %v, %d migrations", n, st.Migrations)
		n, st = perWorker(), status()
	}
	assert.Equal(t, map[uint16]int{1: 3, 2: 3}, n)
	assert.Equal(t, 3, st.Migrations, "three moves, and no tasklet moved back and forth")
	// Steps per second is measured over 100 ms slices and the balancer may act
	// before the first one ends: wait until both workers report work.
	computing := func(st cluster.Status) bool {
		for _, w := range st.Workers {
			if w.StepsPerSec <= 0 {
				return false
			}
		}
		return len(st.Workers) == 2 && st.Answering() == 2
	}
	for !computing(st) {
		require.NoError(t, ctx.Err(), "a worker never reported steps: %+v", st.Workers)
		st = status()
	}
	for _, s := range res.Tasklets {
		_, err := c.Kill(ctx, s.ID)
		require.NoError(t, err)
	}
}
