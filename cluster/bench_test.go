package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stackless-go/stackless/cluster"
)

// BenchmarkScaling measures how CPU-bound tasklets speed up on more worker
// processes. One op runs the same job twice, on a cluster of one worker and
// on a cluster of two: 8 Work tasklets, each a SHA-256 chain of 2M links
// in steps of 500, spawned round robin (on two workers the balancer evens
// out what is left as tasklets finish). The time of a job runs from the
// spawn to the collector holding every digest; starting the workers is not
// counted. It reports the speedup (time on one worker / time on two), and
// next to it host-speedup: the same chains computed by one goroutine and
// by two in this process, the most two cores of this machine give now (a
// shared or throttled machine gives less than 2).
func BenchmarkScaling(b *testing.B) {
	b.ReportAllocs()
	var one, two, hostOne, hostTwo time.Duration
	for b.Loop() {
		hostOne += chains(1)
		hostTwo += chains(2)
		one += scalingJob(b, 1)
		two += scalingJob(b, 2)
	}
	b.ReportMetric(float64(one)/float64(two), "speedup")
	b.ReportMetric(float64(hostOne)/float64(hostTwo), "host-speedup")
	b.ReportMetric(one.Seconds()/float64(b.N), "s/job-1-worker")
	b.ReportMetric(two.Seconds()/float64(b.N), "s/job-2-workers")
}

const (
	benchTasks   = 8
	benchRounds  = 4000
	benchPerStep = 500
)

// chains computes the job's chains directly on g goroutines.
func chains(g int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := i; k < benchTasks; k += g {
				expectedDigest(uint64(k+1), benchRounds*benchPerStep)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func scalingJob(b *testing.B, workers int) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "stb")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cluster.Start(ctx, cluster.Config{Dir: dir, Workers: workers, CheckpointEvery: -1,
		WorkerCommand: testWorkerCommand(dir, ""), Log: slog.New(slog.DiscardHandler), Output: os.Stderr})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": cluster.NewChannelArg, "want": strconv.Itoa(benchTasks)}})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: benchTasks, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": strconv.Itoa(benchRounds), "per_step": strconv.Itoa(benchPerStep)}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Await(ctx, col.Tasklets[0].ID); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	return took
}
