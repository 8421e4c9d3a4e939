package cluster_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
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
//
// The other figures say where a job's time went (see jobFigures): s/host-1
// and s/host-2 are the goroutine runs themselves; busy is the share of a
// job's time a worker process spent on a CPU (1 when nothing else wanted
// the core; the figure for two workers is the lower of the two), waited-ms
// how long its threads were runnable but another process had the CPU;
// coord-cpu-ms is the CPU this process (coordinator and embedded NATS) used
// during the two-worker job; skew-ms how much earlier one of the two workers
// sent its last digest than the other; tail-ms the time from the last digest
// sent to Await returning; moves the tasklets the balancer migrated;
// start-ms the time Spawn took (placing the tasklets and the checkpoint
// that keeps them), a cost paid once per job apart from the steady rate.
func BenchmarkScaling(b *testing.B) {
	b.ReportAllocs()
	var hostOne, hostTwo time.Duration
	var one, two jobFigures
	for b.Loop() {
		hostOne += chains(1)
		hostTwo += chains(2)
		one.add(scalingJob(b, 1))
		two.add(scalingJob(b, 2))
	}
	n := float64(b.N)
	b.ReportMetric(float64(one.took)/float64(two.took), "speedup")
	b.ReportMetric(float64(hostOne)/float64(hostTwo), "host-speedup")
	b.ReportMetric(one.took.Seconds()/n, "s/job-1-worker")
	b.ReportMetric(two.took.Seconds()/n, "s/job-2-workers")
	b.ReportMetric(hostOne.Seconds()/n, "s/host-1")
	b.ReportMetric(hostTwo.Seconds()/n, "s/host-2")
	b.ReportMetric(one.busy/n, "busy-1")
	b.ReportMetric(two.busy/n, "busy-2")
	b.ReportMetric(ms(one.waited)/n, "waited-ms-1")
	b.ReportMetric(ms(two.waited)/n, "waited-ms-2")
	b.ReportMetric(ms(two.coordCPU)/n, "coord-cpu-ms-2")
	b.ReportMetric(ms(two.skew)/n, "skew-ms-2")
	b.ReportMetric(ms(one.tail)/n, "tail-ms-1")
	b.ReportMetric(ms(two.tail)/n, "tail-ms-2")
	b.ReportMetric(float64(two.moves)/n, "moves-2")
	b.ReportMetric(ms(one.start)/n, "start-ms-1")
	b.ReportMetric(ms(two.start)/n, "start-ms-2")
}

const (
	benchTasks   = 8
	benchRounds  = 4000
	benchPerStep = 500
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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

// jobFigures is where one job's time went (summed over jobs by add).
type jobFigures struct {
	took     time.Duration // spawn to Await returning
	busy     float64       // the least busy worker's CPU time / took
	waited   time.Duration // the workers' threads runnable without a CPU
	coordCPU time.Duration // this process's CPU time during the job
	skew     time.Duration // between the workers' last digests
	tail     time.Duration // last digest sent to Await returning
	moves    int           // migrations by the balancer
	start    time.Duration // spawn to Spawn returning (its checkpoint stored)
}

func (f *jobFigures) add(g jobFigures) {
	f.took += g.took
	f.busy += g.busy
	f.waited += g.waited
	f.coordCPU += g.coordCPU
	f.skew += g.skew
	f.tail += g.tail
	f.moves += g.moves
	f.start += g.start
}

func scalingJob(b *testing.B, workers int) jobFigures {
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
	st, err := c.Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pids := []int{os.Getpid()}
	for _, w := range st.Workers {
		pids = append(pids, w.Pid)
	}
	before := make([]procTimes, len(pids))
	for i, p := range pids {
		before[i] = readProcTimes(p)
	}
	start := time.Now()
	_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: benchTasks, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": strconv.Itoa(benchRounds), "per_step": strconv.Itoa(benchPerStep)}})
	if err != nil {
		b.Fatal(err)
	}
	spawned := time.Now()
	v, err := c.Await(ctx, col.Tasklets[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	end := time.Now()
	f := jobFigures{took: end.Sub(start), start: spawned.Sub(start), busy: 1}
	for i, p := range pids {
		d := readProcTimes(p).sub(before[i])
		if i == 0 {
			f.coordCPU = d.CPU
			continue
		}
		f.busy = min(f.busy, float64(d.CPU)/float64(f.took))
		f.waited += d.Waited
	}
	f.skew, f.tail = digestTimes(b, v.Fields, end)
	if st, err = c.Status(ctx); err != nil {
		b.Fatal(err)
	}
	f.moves = st.Migrations
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	return f
}

// digestTimes reads from the collector's fields when each worker sent its
// last digest: the skew between the workers, and the tail from the last
// one to end.
func digestTimes(b *testing.B, fields []byte, end time.Time) (skew, tail time.Duration) {
	b.Helper()
	var col struct {
		Pids []int
		At   []int64
	}
	if err := json.Unmarshal(fields, &col); err != nil || len(col.At) != len(col.Pids) || len(col.At) == 0 {
		b.Fatalf("collector fields %s: %v", fields, err)
	}
	last := map[int]int64{}
	for i, p := range col.Pids {
		last[p] = max(last[p], col.At[i])
	}
	ends := make([]int64, 0, len(last))
	for _, at := range last {
		ends = append(ends, at)
	}
	hi := slices.Max(ends)
	return time.Duration(hi - slices.Min(ends)), end.Sub(time.Unix(0, hi))
}
