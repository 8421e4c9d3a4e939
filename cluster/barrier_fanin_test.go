package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// 20,000 senders spawned on worker 2, one collector on worker 1, with
// balancing and checkpoints on: balancing sheds hundreds of tasklets to
// worker 1, one MIGRATE, MIGRATED, SETTLED exchange each, and the shed went
// on after its caller's 1 s gave up, through the checkpoints' pauses: the
// barrier's drains applied one move per two flush rounds, and every
// checkpoint failed with "messages still moving after 64 flush rounds"
// (the attack's 100,000 tasklets, scaled down). The shed now stops at a
// pause, so every checkpoint converges in a few rounds.
func TestBarrierConvergesWhileBalancingSheds(t *testing.T) {
	c, ctx, logs := startBusyCluster(t)
	const count = 20000
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan:4", "want": strconv.Itoa(count)}})
	require.NoError(t, err)
	_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: count, Worker: 2, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": "100", "per_step": "500"}})
	require.NoError(t, err)
	// Wait (bounded) until balancing started shedding and ten checkpoints
	// were tried after it; each failed before.
	attempts := func(text string) int {
		if i := strings.Index(text, "cluster: balanc"); i >= 0 {
			text = text[i:]
			return strings.Count(text, `msg="cluster: checkpoint"`) + strings.Count(text, "periodic checkpoint failed")
		}
		return 0
	}
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for attempts(logs.String()) < 10 {
		select {
		case <-tk.C:
		case <-ctx.Done():
			t.Fatalf("no ten checkpoints after balancing began")
		}
	}
	text := logs.String()
	assert.Zero(t, strings.Count(text, "still moving"), "checkpoints whose barrier did not converge")
	res, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, res.Rounds, 4)
}

// startBusyCluster starts two workers that balance every 250 ms and
// checkpoint every 500 ms, logging to the buffer it returns (printed when
// the test fails, or always with STACKLESS_TEST_VERBOSE=1).
func startBusyCluster(t *testing.T) (*cluster.Coordinator, context.Context, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	c, ctx := startCluster(t, 2, func(cfg *cluster.Config) {
		cfg.BalanceEvery = 250 * time.Millisecond
		cfg.CheckpointEvery = 500 * time.Millisecond
		cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("STACKLESS_TEST_VERBOSE") == "1" {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	return c, ctx, logs
}
