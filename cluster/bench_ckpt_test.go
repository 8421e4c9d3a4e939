package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stackless-go/stackless/cluster"
)

// BenchmarkCheckpoint100k: a consistent checkpoint and a restore of a
// cluster of 4 workers holding 100,000 tasklets (each a sink blocked on a
// channel of its own: 100,000 channels too). One op is one checkpoint
// (barrier, snapshot, store, commit) and one restore of the newest
// generation onto 4 new worker processes. With STACKLESS_BENCH_NATS3=1 the
// checkpoints go to three clustered NATS servers in this process
// (replicas 3) instead of the embedded one.
func BenchmarkCheckpoint100k(b *testing.B) {
	var tweak func(*cluster.Config)
	if os.Getenv("STACKLESS_BENCH_NATS3") == "1" {
		urls, seed, _ := cluster.StartNATSCluster(b, 3)
		tweak = func(cfg *cluster.Config) { cfg.NATS, cfg.NATSCreds = urls, seed }
	}
	const workers, perWorker = 4, 25000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "stb")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := cluster.Config{Dir: dir, Workers: workers, CheckpointEvery: -1, BalanceEvery: -1,
		WorkerCommand: testWorkerCommand(dir, ""), Log: slog.New(slog.DiscardHandler), Output: os.Stderr}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for w := 1; w <= workers; w++ {
		if _, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "sink", Count: perWorker, Worker: uint16(w),
			Args: map[string]string{"in": cluster.NewChannelArg}}); err != nil {
			b.Fatal(err)
		}
	}
	var ck, rs time.Duration
	var bytes int
	for b.Loop() {
		t0 := time.Now()
		res, err := c.Checkpoint(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ck += time.Since(t0)
		bytes = res.Bytes
		t0 = time.Now()
		if _, err := c.Restore(ctx, 0, workers); err != nil {
			b.Fatal(err)
		}
		rs += time.Since(t0)
	}
	b.ReportMetric(float64(ck.Milliseconds())/float64(b.N), "ms/checkpoint")
	b.ReportMetric(float64(rs.Milliseconds())/float64(b.N), "ms/restore")
	b.ReportMetric(float64(bytes)/1e6, "MB/checkpoint")
}
