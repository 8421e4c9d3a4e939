package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

// psDefaultLimit keeps a look at a big cluster a look: a million rows
// were 127 MB from the coordinator and a gigabyte in this process.
const psDefaultLimit = 1000

// psPage is how many tasklets ps asks for at a time (tests set it lower).
var psPage = cluster.MaxListLimit

// spawnShown is how many of the tasklets it started spawn lists: a million
// rows help nobody read (-o json has them all).
var spawnShown = psDefaultLimit

func newClusterPSCmd() *cobra.Command {
	var (
		q     cluster.ListQuery
		limit int
		after string
	)
	cmd := clientCmd(&cobra.Command{
		Use:   "ps",
		Short: "List the tasklets: ID, kind, worker, state",
		Long: `List the tasklets in ID order, the first ` + strconv.Itoa(psDefaultLimit) + ` unless --limit says otherwise.
The workers filter and cut the list, a page of at most ` + strconv.Itoa(cluster.MaxListLimit) + ` at a time; checkpoints
and migrations wait for one page, never for the whole listing.`,
		Example: "  stackless cluster ps --kind work --state runnable\n" +
			"  stackless cluster ps --match receiving --worker 2\n" +
			"  stackless cluster ps --limit 0 -o json > tasklets.json",
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if q.State != "" {
				if _, err := tasklet.ParseState(q.State); err != nil {
					return usageErrorf("--state %q: give runnable, blocked, sleeping or paused", q.State)
				}
			}
			if after != "" {
				id, err := cluster.ParseTaskletID(after)
				if err != nil {
					return usageErrorf("--after: %v", err)
				}
				q.After = id
			}
			return nil
		},
	}, func(cmd *cobra.Command, _ []string, c *cluster.Client, ctx context.Context) error {
		out := cmd.OutOrStdout()
		if outputOf(cmd) == formatJSON {
			return psJSON(ctx, out, c, q, limit)
		}
		return psTable(ctx, out, c, q, limit)
	})
	fs := cmd.Flags()
	fs.IntVar(&limit, "limit", psDefaultLimit, "list at most `N` tasklets (0: all of them, read a page at a time)")
	fs.StringVar(&q.Kind, "kind", "", "only tasklets of this `KIND`")
	fs.StringVar(&q.State, "state", "", "only tasklets in this `STATE`: runnable, blocked, sleeping or paused")
	fs.Uint16Var(&q.Worker, "worker", 0, "only the tasklets on this `WORKER`")
	fs.StringVar(&q.Text, "match", "", "only tasklets with `TEXT` in their ID, kind, state or op (any case)")
	fs.StringVar(&after, "after", "", "only IDs after this `ID`: the last one listed, to list on")
	atLeast(fs, "limit", "0")
	atLeast(fs, "worker", "1")
	return cmd
}

// psPages calls each with the pages of q, up to limit tasklets (0: all).
// It returns the matches the first page counted, and the last ID given.
func psPages(ctx context.Context, c *cluster.Client, q cluster.ListQuery, limit int, each func([]cluster.TaskletView) error) (matched, shown int, last tasklet.ID, err error) {
	q.Limit = psPage
	if limit > 0 {
		q.Limit = min(q.Limit, limit)
	}
	first := true
	for page, err := range cluster.Pages(ctx, c.List, q) {
		if err != nil {
			return matched, shown, last, err
		}
		if first {
			matched, first = page.Matched, false
		}
		rows := page.Tasklets
		if limit > 0 {
			rows = rows[:min(len(rows), limit-shown)]
		}
		if err := each(rows); err != nil {
			return matched, shown, last, err
		}
		shown += len(rows)
		if len(rows) > 0 {
			last = rows[len(rows)-1].ID
		}
		if limit > 0 && shown >= limit {
			break
		}
	}
	return matched, shown, last, nil
}

func psTable(ctx context.Context, w io.Writer, c *cluster.Client, q cluster.ListQuery, limit int) error {
	var b bytes.Buffer
	t := newTable("ID", "KIND", "WORKER", "STATE", "STEPS")
	matched, shown, last, err := psPages(ctx, c, q, limit, func(vs []cluster.TaskletView) error {
		for _, v := range vs {
			state := v.State
			if v.Op != "" && v.Op != v.State {
				state += " (" + v.Op + ")"
			}
			t.row(v.ID.String(), v.Kind, strconv.Itoa(int(v.Worker)), state, strconv.FormatUint(v.Steps, 10))
		}
		// A page out at a time: the columns keep the widths seen so far.
		t.write(&b)
		t.rows = t.rows[:0]
		err := flush(w, &b)
		b.Reset()
		return err
	})
	if err != nil {
		return err
	}
	if limit > 0 && shown == limit && shown < matched {
		fmt.Fprintf(&b, "%d of %d tasklet(s) listed; --limit 0 lists all, --after %v lists on\n", shown, matched, last)
	} else {
		fmt.Fprintf(&b, "%d tasklet(s)\n", shown)
	}
	return flush(w, &b)
}

// psJSON writes one JSON array, a page at a time.
func psJSON(ctx context.Context, w io.Writer, c *cluster.Client, q cluster.ListQuery, limit int) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	sep := "\n  "
	_, _, _, err := psPages(ctx, c, q, limit, func(vs []cluster.TaskletView) error {
		var b bytes.Buffer
		for _, v := range vs {
			j, err := json.Marshal(v)
			if err != nil {
				return err
			}
			b.WriteString(sep)
			b.Write(j)
			sep = ",\n  "
		}
		_, err := w.Write(b.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	end := "]\n"
	if sep != "\n  " {
		end = "\n]\n"
	}
	_, err = io.WriteString(w, end)
	return err
}
