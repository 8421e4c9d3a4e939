// cluster status and down, and the helpers that print a cluster's state.

package cli

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/cluster"
	_ "github.com/stackless-go/stackless/examples/cluster/work" // spawnable kinds: work, collector, ticker
	"github.com/stackless-go/stackless/internal/shquote"
)

// statusLine sums a status up in one line.
func statusLine(st cluster.Status) string {
	var tasklets int
	var steps float64
	var heap uint64
	for _, w := range st.Workers {
		tasklets += w.Tasklets
		steps += w.StepsPerSec
		heap += w.HeapBytes
	}
	ago := "never"
	if !st.LastAt.IsZero() {
		ago = time.Since(st.LastAt).Round(time.Second).String() + " ago"
	}
	line := fmt.Sprintf("%s | %s | %s steps/s | heap %s | checkpoint %d (%s) | moved %d | rollbacks %d",
		plural(len(st.Workers), "worker"), plural(tasklets, "tasklet"), humanCount(steps), humanBytes(heap), st.LastGen, ago, st.Migrations, st.Rollbacks)
	if silent := silentWorkers(st); silent != "" {
		line += " | NOT ANSWERING: worker " + silent
	}
	if st.State != "" && st.State != "running" {
		line += " | " + strings.ToUpper(st.State[:1]) + st.State[1:]
	}
	if st.CheckpointFailures > 0 {
		line += fmt.Sprintf(" | CHECKPOINTS FAILING: %d in a row", st.CheckpointFailures)
	}
	return line
}

// silentWorkers lists the workers that did not answer status: "2, 5".
func silentWorkers(st cluster.Status) string {
	var nodes []string
	for _, w := range st.Workers {
		if w.Err != "" {
			nodes = append(nodes, strconv.Itoa(int(w.Node)))
		}
	}
	return strings.Join(nodes, ", ")
}

// plural says "1 worker", "2 workers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// humanCount prints a rate or count with three significant digits: 980,
// 98.1k, 1.25M.
func humanCount(x float64) string {
	switch {
	case x >= 999.5e6:
		return humanFloat(x/1e9) + "G"
	case x >= 999.5e3:
		return humanFloat(x/1e6) + "M"
	case x >= 999.5:
		return humanFloat(x/1e3) + "k"
	}
	return humanFloat(x)
}

// humanBytes prints a size with three significant digits: 850 KiB, 1.09 MiB.
func humanBytes(b uint64) string {
	switch {
	case b >= 1<<30:
		return humanFloat(float64(b)/(1<<30)) + " GiB"
	case b >= 1<<20:
		return humanFloat(float64(b)/(1<<20)) + " MiB"
	case b >= 1<<10:
		return humanFloat(float64(b)/(1<<10)) + " KiB"
	}
	return strconv.FormatUint(b, 10) + " B"
}

func newClusterDownCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "down",
		Short: "Shut the cluster down: final checkpoint, workers stopped",
		Args:  noArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		if err := c.Down(ctx); err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			return writeJSON(cmd.OutOrStdout(), map[string]bool{"down": true})
		}
		fmt.Fprintln(cmd.OutOrStdout(), "cluster down")
		return nil
	})
}

func newClusterStatusCmd() *cobra.Command {
	return clientCmd(&cobra.Command{
		Use:   "status",
		Short: "Show the workers: tasklets, runnable, steps/s, memory",
		Args:  noArgs,
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if outputOf(cmd) == formatJSON {
			if err := writeJSON(cmd.OutOrStdout(), st); err != nil {
				return err
			}
			return healthError(st)
		}
		var b bytes.Buffer
		writeStatus(&b, st)
		if err := flush(cmd.OutOrStdout(), &b); err != nil {
			return err
		}
		return healthError(st)
	})
}

func writeStatus(b *bytes.Buffer, st cluster.Status) {
	t := newTable("WORKER", "PID", "HOST", "HOSTS", "TASKLETS", "RUNNABLE", "STEPS/S", "HEAP", "STATE")
	for _, w := range st.Workers {
		hosts := make([]string, len(w.Hosts))
		for i, h := range w.Hosts {
			hosts[i] = strconv.Itoa(int(h))
		}
		state := "running"
		switch {
		case w.Err != "":
			state = "NOT ANSWERING"
		case w.Paused:
			state = "paused"
		}
		t.row(strconv.Itoa(int(w.Node)), strconv.Itoa(w.Pid), w.Host, strings.Join(hosts, ","), strconv.Itoa(w.Tasklets),
			humanFloat(math.Round(w.Runnable*10)/10), humanCount(w.StepsPerSec), humanBytes(w.HeapBytes), state)
	}
	t.write(b)
	for _, w := range st.Workers {
		if w.Err != "" {
			fmt.Fprintf(b, "worker %d (pid %d): %s\n", w.Node, w.Pid, w.Err)
		}
	}
	last := "none"
	if st.LastGen > 0 {
		last = fmt.Sprintf("generation %d at %s", st.LastGen, st.LastAt.Format(time.TimeOnly))
	}
	fmt.Fprintf(b, "\nlast checkpoint: %s; balancer moves: %d; rollbacks: %d; workers left: %d; up %v\n",
		last, st.Migrations, st.Rollbacks, st.Left, st.Uptime.Round(time.Second))
	if st.State != "" {
		fmt.Fprintf(b, "cluster: %s\n", st.State)
	}
	if f := st.Failing(); f != "" {
		fmt.Fprintf(b, "%s\n", f)
	}
	if st.Note != "" {
		fmt.Fprintf(b, "at start: %s\n", st.Note)
	}
	if st.Leader != nil {
		fmt.Fprintf(b, "leader: %s since %s (epoch %d)\n", st.Leader.Holder, st.Leader.Since.Local().Format(time.DateTime), st.Leader.Epoch)
	}
}

// healthError makes `cluster status` exit non-zero when the cluster is
// down (its rollbacks failed until the coordinator gave up), a worker did
// not answer, or its checkpoints are failing, after the table is printed.
func healthError(st cluster.Status) error {
	if st.CrashLooping() {
		return fmt.Errorf("the cluster in %s is in a crash loop: its workers die soon after each rollback (the state above says how); if what its newest checkpoint holds kills them, restore an older generation (`stackless checkpoint ls %s`, then `stackless cluster restore GEN --cluster %s`), or stop it with `stackless cluster down --cluster %s`",
			st.Dir, shquote.Quote(st.Dir), shquote.Quote(st.Dir), shquote.Quote(st.Dir))
	}
	if !strings.HasPrefix(st.State, "down:") {
		silent := silentWorkers(st)
		if silent == "" {
			if st.CheckpointFailures > 0 {
				return fmt.Errorf("the cluster in %s runs, but its checkpoints are failing (%d in a row): a crash now loses the work since generation %d; fix what the failure above names, then run `stackless cluster checkpoint --cluster %s`",
					st.Dir, st.CheckpointFailures, st.LastGen, shquote.Quote(st.Dir))
			}
			return nil
		}
		return fmt.Errorf("worker %s of the cluster in %s did not answer within %v; the coordinator drops a silent worker's link and rolls the cluster back to its last checkpoint, and the table then shows its replacement: run status again (a process stopped with SIGSTOP goes on with `kill -CONT PID`)",
			silent, st.Dir, cluster.StatusWait)
	}
	return fmt.Errorf("the cluster in %s is %s; bring it back with `stackless cluster restore --cluster %s`, or stop it with `stackless cluster down --cluster %s`",
		st.Dir, st.State, shquote.Quote(st.Dir), shquote.Quote(st.Dir))
}

// table lines up columns with two spaces between them.
type table struct {
	rows  [][]string
	width []int
}

func newTable(head ...string) *table {
	t := &table{width: make([]int, len(head))}
	t.row(head...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		t.width[i] = max(t.width[i], len(c))
	}
	t.rows = append(t.rows, cells)
}

func (t *table) write(b *bytes.Buffer) {
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(b, "%-*s  ", t.width[i], c)
		}
		b.WriteByte('\n')
	}
}
