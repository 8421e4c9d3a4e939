package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/examples/longtask/task"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

type longtaskResult struct {
	Demo        string      `json:"demo"`
	Result      task.Result `json:"result"`
	DB          string      `json:"db"`
	Resumed     uint64      `json:"resumed_from"` // generation; 0 for a fresh start
	ResumedDocs int         `json:"resumed_docs"`
	AlreadyDone bool        `json:"already_complete"`
	Gen         uint64      `json:"gen"` // generation holding the finished run
	ElapsedMs   int64       `json:"elapsed_ms"`
}

func newDemoLongtaskCmd() *cobra.Command {
	var (
		o  task.Options
		hf httpFlags
	)
	cmd := &cobra.Command{
		Use:   "longtask",
		Short: "Word statistics by a pipeline of tasklets that survives kill -9",
		Long: `Count the words of a generated corpus, fetched over HTTP from a document
server the demo starts, with a pipeline of tasklets (workers doing the
fetches as journaled effects, a reducer) while checkpointing the whole world
to DIR/longtask.db every --checkpoint-every. Kill it at any moment, even
with kill -9, and run it again: it resumes from the last checkpoint and
prints the same result line as an unbroken run. Once finished, running it
again prints the stored result; --fresh starts over.

The default corpus takes a minute or two (each document is an HTTP fetch,
journaled so that a restart does not fetch it again). Without --docs,
--workers and --seed a stored run keeps its own; given ones must match it.

--http serves the web observer while it runs: the pipeline's tasklets and
channels, live, and its checkpoints on a timeline.`,
		Example: "  stackless demo longtask\n" +
			"  stackless demo longtask --docs 20000 --data /tmp/lt\n" +
			"  stackless demo longtask --http 127.0.0.1:8080\n" +
			"  stackless inspect data/longtask.db",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Docs < 1:
				return usageErrorf("--docs must be 1 or more, got %d", o.Docs)
			case o.Workers < 1 || o.Workers > task.MaxWorkers:
				return usageErrorf("--workers must be 1 to %d, got %d", task.MaxWorkers, o.Workers)
			case o.Seed < 1:
				return usageErrorf("--seed must be 1 or more, got %d", o.Seed)
			case o.Every <= 0:
				return usageErrorf("--checkpoint-every must be more than 0, got %v", o.Every)
			}
			run := o
			for name, v := range map[string]*int{"docs": &run.Docs, "workers": &run.Workers} {
				if !cmd.Flags().Changed(name) {
					*v = 0 // the stored run's, or the default
				}
			}
			if !cmd.Flags().Changed("seed") {
				run.Seed = 0
			}
			asJSON := outputOf(cmd) == formatJSON
			stderr := cmd.ErrOrStderr()
			if !asJSON {
				run.Log = stderr
			}
			if isTerminal(stderr) {
				run.Progress = stderr
			}
			var srv *observe.Server
			var serr error
			if hf.addr != "" {
				run.OnStart = func(s *scheduler.Scheduler, db *store.DB) {
					src := observe.NewSchedulerSource("demo longtask", s, nil)
					src.SetCheckpoints(storeTimeline(db))
					srv, serr = hf.start(cmd, observe.Config{Source: src})
				}
			}
			rep, err := task.Run(cmd.Context(), run)
			if srv != nil {
				srv.Close()
			}
			if err == nil && serr != nil {
				return serr
			}
			if err != nil {
				if errors.Is(err, context.Canceled) {
					fmt.Fprintln(stderr, err) // says where the run was saved; Execute only says "interrupted"
				}
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), longtaskResult{Demo: "longtask", Result: rep.Result, DB: rep.DB,
					Resumed: rep.Resumed, ResumedDocs: rep.ResumedDocs, AlreadyDone: rep.AlreadyDone, Gen: rep.Gen,
					ElapsedMs: rep.Elapsed.Milliseconds()})
			}
			printDone(stderr, rep)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), rep.Result)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Docs, "docs", task.DefaultDocs, "documents in the corpus")
	f.IntVar(&o.Workers, "workers", task.DefaultWorkers, "counting tasklets")
	f.Uint64Var(&o.Seed, "seed", task.DefaultSeed, "corpus seed")
	f.StringVar(&o.Dir, "data", task.DefaultDir, "data directory `DIR`; the checkpoints go to DIR/"+task.DBName)
	f.DurationVar(&o.Every, "checkpoint-every", task.DefaultEvery, "checkpoint interval")
	f.BoolVar(&o.Fresh, "fresh", false, "delete the stored run and start over")
	for name, min := range map[string]string{"docs": "1", "workers": "1", "seed": "1", "checkpoint-every": "1ns"} {
		atLeast(f, name, min)
	}
	hf.add(f, "")
	_ = cmd.MarkFlagDirname("data")
	cmd.RunE = withWritableHint(cmd.RunE, writePlace{"--data DIR", func() string { return o.Dir }})
	return cmd
}

func printDone(w io.Writer, rep *task.Report) {
	if !rep.AlreadyDone {
		fmt.Fprintf(w, "longtask: done in %v; the finished run is generation %d of %s\n",
			rep.Elapsed.Round(1e6), rep.Gen, rep.DB)
	}
}
