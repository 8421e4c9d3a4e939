package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// startTwoWorkers starts a cluster of two worker processes without periodic
// checkpoints or balancing; the caller closes it (Close's error is its to
// check) and shows out when it failed.
func startTwoWorkers(t *testing.T) (*cluster.Coordinator, context.Context, string, *syncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level: starts worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	dir := shortDir(t)
	out := &syncBuffer{}
	c, err := cluster.Start(ctx, cluster.Config{
		Dir: dir, Workers: 2, CheckpointEvery: -1, BalanceEvery: -1,
		WorkerCommand: testWorkerCommand(dir, ""),
		Log:           slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Output:        out,
	})
	require.NoError(t, err, "output:\n%s", out)
	return c, ctx, dir, out
}

// A store that cannot write (the embedded server shuts its JetStream down
// when a write finds the disk full) fails the final checkpoint at once,
// saying what was lost, where and what to do, instead of retrying it for a
// minute: shutdown stays prompt, and still stops every worker.
func TestCloseOnAFullDiskIsPromptAndSaysWhatWasLost(t *testing.T) {
	c, ctx, dir, out := startTwoWorkers(t)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	res, err := c.Checkpoint(ctx)
	require.NoError(t, err)

	c.StoreOutOfSpace()
	t0 := time.Now()
	_, err = c.Checkpoint(ctx)
	assert.ErrorIs(t, err, cluster.ErrStoreBroken, "a checkpoint fails at once too")
	assert.Less(t, time.Since(t0), 5*time.Second, "the checkpoint waited")

	t0 = time.Now()
	err = c.Close()
	took := time.Since(t0)
	t.Logf("Close took %v and said: %v", took, err)
	require.Error(t, err)
	assert.Less(t, took, 5*time.Second, "shutdown waited")
	assert.ErrorIs(t, err, cluster.ErrStoreBroken)
	for _, says := range []string{
		"final checkpoint not stored",
		fmt.Sprintf("the newest is %d", res.Gen),
		"free space on the disk of " + filepath.Join(dir, "nats"),
		"run `stackless cluster up --data " + dir + "`",
	} {
		assert.Contains(t, err.Error(), says)
	}
	for _, w := range st.Workers {
		assert.ErrorIs(t, syscall.Kill(w.Pid, 0), syscall.ESRCH, "worker process %d is gone", w.Pid)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "sock"))
	assert.NoError(t, err)
	assert.Empty(t, entries, "sockets left behind")
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// A spawn holds every worker paused until its checkpoint is stored; when
// that checkpoint fails, the spawn says so and no worker stays paused: the
// new tasklets run (unsaved) to their end.
func TestSpawnWhoseCheckpointFailsResumesTheWorkers(t *testing.T) {
	c, ctx, _, out := startTwoWorkers(t)
	defer func() {
		assert.ErrorIs(t, c.Close(), cluster.ErrStoreBroken)
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	}()
	const count, rounds, perStep = 4, 20, 50
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": strconv.Itoa(count)}})
	require.NoError(t, err)

	c.StoreOutOfSpace()
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: count, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": strconv.Itoa(rounds), "per_step": strconv.Itoa(perStep)}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the checkpoint after failed")
	require.Len(t, res.Tasklets, count, "every tasklet was spawned")
	workers := map[uint16]bool{}
	for _, s := range res.Tasklets {
		workers[s.Worker] = true
	}
	assert.Len(t, workers, 2, "on both workers, each held by the spawn")

	st, err := c.Status(ctx)
	require.NoError(t, err)
	for _, w := range st.Workers {
		assert.False(t, w.Paused, "worker %d still paused", w.Node)
	}
	var want uint64
	for _, s := range res.Tasklets {
		want ^= expectedDigest(uint64(s.ID), rounds*perStep)
	}
	xor, got := collected(t, ctx, c, col.Tasklets[0].ID)
	assert.Equal(t, count, got, "every spawned tasklet ran to its end")
	assert.Equal(t, want, xor)
}

// On a NATS server of one's own whose store is full, a checkpoint fails at
// once saying how to make room, not after retrying for a minute; with room
// made, the next one is stored (and so is the final one of Close).
func TestClusterCheckpointOnAFullOutsideNATSFailsAtOnce(t *testing.T) {
	url, seed := cluster.StartSmallNATS(t, 8<<20)
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) {
		cfg.NATS, cfg.NATSCreds, cfg.Name = url, seed, "small"
		cfg.JournalBytes = 1 << 20 // the journal's bucket reserves its whole size
	})
	_, err := c.Checkpoint(ctx)
	require.NoError(t, err)

	free := cluster.FillNATS(t, url, seed)
	t0 := time.Now()
	_, err = c.Checkpoint(ctx)
	t.Logf("the checkpoint took %v and said: %v", time.Since(t0), err)
	assert.Less(t, time.Since(t0), 5*time.Second, "the checkpoint retried a full store")
	assert.ErrorIs(t, err, cluster.ErrStoreBroken)
	assert.ErrorContains(t, err, "make room")

	free()
	_, err = c.Checkpoint(ctx)
	assert.NoError(t, err, "room was made")
}
