package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/internal/benchcore"
)

// benchFigures is one benchmark's result.
type benchFigures struct {
	N           int                `json:"n"`
	NsPerOp     float64            `json:"ns_per_op"`
	AllocsPerOp int64              `json:"allocs_per_op"`
	BytesPerOp  int64              `json:"bytes_per_op"`
	Extra       map[string]float64 `json:"extra,omitempty"`
}

// benchRow compares tasklets with goroutines on one kind of work.
type benchRow struct {
	Name       string        `json:"name"`
	Op         string        `json:"op"`
	Tasklets   benchFigures  `json:"tasklets"`
	Goroutines *benchFigures `json:"goroutines,omitempty"`
	Speedup    float64       `json:"speedup,omitempty"` // goroutine ns/op ÷ tasklet ns/op
	Metric     string        `json:"metric,omitempty"`  // the extra figure that matters
}

type benchReport struct {
	Go         string     `json:"go"`
	OS         string     `json:"os"`
	Arch       string     `json:"arch"`
	GOMAXPROCS int        `json:"gomaxprocs"`
	Benchtime  string     `json:"benchtime"`
	Skipped    []string   `json:"skipped,omitempty"`
	Results    []benchRow `json:"results"`
}

func newBenchCmd() *cobra.Command {
	var (
		benchtime  string
		skipSkynet bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the core benchmarks, tasklets against goroutines",
		Long: `Run the core benchmarks of stackless in this process (with testing.Benchmark)
next to their goroutine baselines, and print one row per comparison:
Yield (switches), ChannelPingPong (unbuffered channel hand-overs), Spawn,
Skynet (a tree of 1,111,111 tasklets), IdleTasklets (memory per blocked
tasklet) and IdleActors (memory per tasklet blocked on a channel of its own).
GOMAXPROCS is left as it is. ` + "`make bench`" + ` runs the same
benchmarks with go test.`,
		Example: "  stackless bench\n  stackless bench --benchtime 100x --skip-skynet -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			restore, err := setBenchtime(benchtime)
			if err != nil {
				return err
			}
			defer restore()

			rep := benchReport{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
				GOMAXPROCS: runtime.GOMAXPROCS(0), Benchtime: benchtime}
			var progress io.Writer = io.Discard
			if isTerminal(cmd.ErrOrStderr()) {
				progress = cmd.ErrOrStderr()
			}
			for _, p := range benchcore.Suite() {
				if p.Heavy && skipSkynet {
					rep.Skipped = append(rep.Skipped, p.Name)
					continue
				}
				row := benchRow{Name: p.Name, Op: p.Op, Metric: p.Metric}
				for _, side := range []struct {
					name string
					fn   func(*testing.B)
					dst  **benchFigures
				}{{"tasklets", p.Tasklets, nil}, {"goroutines", p.Goroutines, &row.Goroutines}} {
					if side.fn == nil {
						continue
					}
					if err := cmd.Context().Err(); err != nil {
						return err
					}
					fmt.Fprintf(progress, "bench: %s/%s ...\n", p.Name, side.name)
					fig, err := runBenchmark(side.fn)
					if err != nil {
						return fmt.Errorf("benchmark %s (%s): %w", p.Name, side.name, err)
					}
					if side.dst == nil {
						row.Tasklets = fig
					} else {
						*side.dst = &fig
					}
				}
				if g := row.Goroutines; g != nil && row.Tasklets.NsPerOp > 0 {
					row.Speedup = g.NsPerOp / row.Tasklets.NsPerOp
				}
				rep.Results = append(rep.Results, row)
			}
			if outputOf(cmd) == formatJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return writeBenchTable(cmd.OutOrStdout(), rep)
		},
	}
	cmd.Flags().StringVar(&benchtime, "benchtime", "1s", "run each benchmark for this long (1s) or this many times (100x)")
	cmd.Flags().BoolVar(&skipSkynet, "skip-skynet", false, "skip Skynet (1,111,111 tasklets and as many goroutines)")
	return cmd
}

// setBenchtime sets the -test.benchtime that testing.Benchmark reads and
// returns a function that puts the old value back.
func setBenchtime(v string) (restore func(), err error) {
	testing.Init() // registers the test.* flags; does nothing under go test
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return nil, fmt.Errorf("testing flags are not registered")
	}
	old := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		return nil, usageErrorf("--benchtime %q: want a duration such as 1s or a count such as 100x", v)
	}
	return func() { _ = f.Value.Set(old) }, nil
}

// runBenchmark runs fn as go test -bench would, with allocation counts.
func runBenchmark(fn func(*testing.B)) (benchFigures, error) {
	r := testing.Benchmark(fn)
	if r.N == 0 {
		return benchFigures{}, fmt.Errorf("failed (one of its checks did not hold)")
	}
	fig := benchFigures{
		N:           r.N,
		NsPerOp:     float64(r.T.Nanoseconds()) / float64(r.N),
		AllocsPerOp: r.AllocsPerOp(),
		BytesPerOp:  r.AllocedBytesPerOp(),
	}
	if len(r.Extra) > 0 {
		fig.Extra = make(map[string]float64, len(r.Extra))
		for k, v := range r.Extra {
			fig.Extra[k] = v
		}
	}
	return fig, nil
}

func writeBenchTable(w io.Writer, rep benchReport) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\ttasklets/op\tgoroutines/op\tspeedup\tallocs/op\textra")
	for _, r := range rep.Results {
		gns, speedup := "-", "-"
		if r.Goroutines != nil {
			gns = humanDuration(r.Goroutines.NsPerOp)
			speedup = fmt.Sprintf("%.1fx", r.Speedup)
		}
		extra := ""
		if v, ok := r.Tasklets.Extra[r.Metric]; ok {
			extra = formatFloat(v) + " " + r.Metric
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, humanDuration(r.Tasklets.NsPerOp), gns, speedup, r.Tasklets.AllocsPerOp, extra)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(buf.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	note := fmt.Sprintf("%s %s/%s, GOMAXPROCS=%d, benchtime %s; allocs/op are the tasklets'",
		rep.Go, rep.OS, rep.Arch, rep.GOMAXPROCS, rep.Benchtime)
	if len(rep.Skipped) > 0 {
		note += "; skipped: " + strings.Join(rep.Skipped, ", ")
	}
	_, err := fmt.Fprintf(w, "\n%s\n", note)
	return err
}
