// Command longtask computes word statistics over a large corpus it fetches
// from a document server over HTTP (one it starts itself, unless --server
// names one), with a pipeline of tasklets checkpointing to bbolt every
// second. Kill it (even with kill -9) and start it again: it resumes from
// the last checkpoint and prints the same result as an unbroken run; the
// effect journal answers the fetches made since that checkpoint, so no
// document is fetched again (--journal=false shows the difference).
//
//	go run ./examples/longtask              # about 15 s; progress on a terminal
//	go run ./examples/longtask --docs 5000  # a smaller corpus
//	go run ./examples/longtask --fresh      # forget the stored run
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/stackless-go/stackless/examples/longtask/task"
)

// eventsEnv, when set to 1, makes the program print machine-readable
// progress lines on stdout ("resume gen=G docs=D", "checkpoint gen=G
// docs=D"); the kill -9 test reads them to choose its moments.
const eventsEnv = "LONGTASK_EVENTS"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the long task and returns the exit code: 0, 1 when it failed,
// 2 for bad arguments, 130 when interrupted (after a checkpoint).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("longtask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o task.Options
	fs.IntVar(&o.Docs, "docs", 0, fmt.Sprintf("documents in the corpus (default %d, or the stored run's)", task.DefaultDocs))
	fs.IntVar(&o.Workers, "workers", 0, fmt.Sprintf("counting tasklets (default %d, or the stored run's)", task.DefaultWorkers))
	fs.Uint64Var(&o.Seed, "seed", 0, fmt.Sprintf("corpus seed (default %d, or the stored run's)", task.DefaultSeed))
	fs.StringVar(&o.Dir, "data", task.DefaultDir, "data directory; the checkpoints go to DIR/"+task.DBName)
	fs.DurationVar(&o.Every, "checkpoint-every", task.DefaultEvery, "checkpoint interval")
	fs.BoolVar(&o.Fresh, "fresh", false, "delete the stored run and start over")
	fs.Uint64Var(&o.CheckpointSteps, "checkpoint-steps", 0, "also checkpoint every N scheduler steps (0: off)")
	fs.StringVar(&o.Server, "server", "", "document server base URL (default: start one in this process)")
	journal := fs.Bool("journal", true, "journal the fetches, so none is made again after a crash")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || o.Docs < 0 || o.Workers < 0 || o.Workers > task.MaxWorkers || o.Every <= 0 {
		fmt.Fprintf(stderr, "usage: longtask [--docs N] [--workers N] [--seed N] [--data DIR] [--checkpoint-every DURATION] [--server URL] [--journal=false] [--fresh]  (N >= 1, workers <= %d, DURATION > 0)\n", task.MaxWorkers)
		return 2
	}
	o.NoJournal = !*journal
	o.Log = stderr
	if isTerminal(stderr) {
		o.Progress = stderr
	}
	if os.Getenv(eventsEnv) == "1" {
		o.Events = stdout
	}
	rep, err := task.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	if !rep.AlreadyDone {
		fmt.Fprintf(stderr, "longtask: done in %v; the finished run is generation %d of %s\n", rep.Elapsed.Round(1e6), rep.Gen, rep.DB)
	}
	fmt.Fprintln(stdout, rep.Result)
	return 0
}

// isTerminal reports whether w is a terminal, where a progress bar is
// welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
