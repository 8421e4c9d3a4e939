// Command cluster shows the multi-process cluster of stackless: CPU-bound
// tasklets spread over worker processes by themselves (the balancer
// migrates them), and tasklets moving between workers while they run.
//
//	go run ./examples/cluster              # both demos
//	go run ./examples/cluster scaling      # 1 worker vs 2 workers, and the speedup
//	go run ./examples/cluster migrate      # watch tasklets move as they run
//
// The program is its own worker: the cluster starts it again as
// `cluster worker --cluster DIR --node N`, so the workers know the kinds it
// registers (package work).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/examples/cluster/work"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		code = workerMain(ctx, os.Args[2:], os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// workerMain is this program started by the cluster as one of its workers.
func workerMain(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("cluster", "", "cluster directory")
	node := fs.Uint("node", 0, "node number")
	if err := fs.Parse(args); err != nil || *dir == "" || *node == 0 || *node > 0xEFFF {
		fmt.Fprintln(stderr, "usage: cluster worker --cluster DIR --node N (started by the cluster itself)")
		return 2
	}
	if err := cluster.RunWorker(ctx, cluster.WorkerConfig{Dir: *dir, Node: uint16(*node)}); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// options of the demos.
type options struct {
	tasks   int
	links   int
	perStep int
	data    string
	out     io.Writer
	log     io.Writer
}

// run runs the demos named in args (default: both) and returns the exit
// code: 0, 1 when a demo failed, 2 for bad arguments, 130 when interrupted.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{out: stdout, log: stderr}
	fs.IntVar(&o.tasks, "tasks", 8, "CPU-bound tasklets of the scaling demo")
	fs.IntVar(&o.links, "links", 6_000_000, "hash-chain links each tasklet computes")
	fs.IntVar(&o.perStep, "per-step", 500, "links per step (a step is the unit the scheduler switches on)")
	fs.StringVar(&o.data, "data", "", "parent folder of the cluster directories (default: a temporary one, removed after)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	demos := fs.Args()
	if len(demos) == 0 {
		demos = []string{"scaling", "migrate"}
	}
	if o.tasks < 1 || o.links < 1 || o.perStep < 1 {
		fmt.Fprintln(stderr, "usage: cluster [-tasks N] [-links N] [-per-step N] [-data DIR] [scaling] [migrate]  (N >= 1)")
		return 2
	}
	if o.data == "" {
		d, err := os.MkdirTemp("", "stkc")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		o.data = d
	}
	for _, d := range demos {
		var err error
		switch d {
		case "scaling":
			err = scaling(ctx, o)
		case "migrate":
			err = migrate(ctx, o)
		default:
			fmt.Fprintf(stderr, "unknown demo %q: use scaling or migrate\n", d)
			return 2
		}
		if err != nil {
			fmt.Fprintln(stderr, "cluster:", err)
			if errors.Is(err, context.Canceled) {
				return 130
			}
			return 1
		}
	}
	return 0
}

// start brings up a fresh cluster of n workers in its own directory.
func start(ctx context.Context, o options, name string, n int, balance time.Duration) (*cluster.Coordinator, error) {
	return cluster.Start(ctx, cluster.Config{
		Dir:          o.data + "/" + name,
		Workers:      n,
		Fresh:        true,
		BalanceEvery: balance,
		Output:       o.log,
	})
}

// scaling runs the same CPU-bound job on one worker and on two, all its
// tasklets spawned on worker 1: on two workers the balancer moves half of
// them to worker 2 by itself.
func scaling(ctx context.Context, o options) error {
	fmt.Fprintf(o.out, "scaling: %d tasklets, each a SHA-256 chain of %d links, all spawned on worker 1\n", o.tasks, o.links)
	var res [2]jobResult
	for i, n := range []int{1, 2} {
		var err error
		if res[i], err = job(ctx, o, n); err != nil {
			return err
		}
	}
	// The check runs after the timed runs, so it does not take their CPU.
	for i, n := range []int{1, 2} {
		want := res[i].expected()
		if res[i].xor != want {
			return fmt.Errorf("%d workers computed %016x, the chains give %016x", n, res[i].xor, want)
		}
		fmt.Fprintf(o.out, "  %d worker(s): %v (balancer moved %d tasklets; result %016x, checked)\n",
			n, res[i].took.Round(time.Millisecond), res[i].moved, res[i].xor)
	}
	fmt.Fprintf(o.out, "  speedup on 2 workers: %.2fx\n", float64(res[0].took)/float64(res[1].took))
	return nil
}

type jobResult struct {
	took     time.Duration
	moved    int
	xor      uint64
	expected func() uint64 // the chains computed here directly
}

// job runs the scaling job on n workers.
func job(ctx context.Context, o options, n int) (jobResult, error) {
	c, err := start(ctx, o, "scaling"+strconv.Itoa(n), n, 0)
	if err != nil {
		return jobResult{}, err
	}
	defer c.Close()
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": cluster.NewChannelArg, "want": strconv.Itoa(o.tasks)}})
	if err != nil {
		return jobResult{}, err
	}
	t0 := time.Now()
	ws, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: o.tasks, Worker: 1, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "links": strconv.Itoa(o.links), "per_step": strconv.Itoa(o.perStep)}})
	if err != nil {
		return jobResult{}, err
	}
	v, err := c.Await(ctx, col.Tasklets[0].ID)
	if err != nil {
		return jobResult{}, err
	}
	took := time.Since(t0)
	st, err := c.Status(ctx)
	if err != nil {
		return jobResult{}, err
	}
	var got struct{ Xor uint64 }
	if err := decode(v.Fields, &got); err != nil {
		return jobResult{}, err
	}
	expected := func() uint64 {
		var want uint64
		for _, s := range ws.Tasklets {
			want ^= work.Expected(uint64(s.ID), o.links)
		}
		return want
	}
	return jobResult{took: took, moved: st.Migrations, xor: got.Xor, expected: expected}, c.Close()
}
