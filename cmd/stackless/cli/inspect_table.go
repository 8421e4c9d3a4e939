package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/stackless-go/stackless/tasklet"
)

// bufferWidth is how much of a channel's buffer a table row previews.
const bufferWidth = 60

// fieldsWidth is how much of a behavior's fields a table row previews;
// --tasklet ID shows them all.
const fieldsWidth = 60

func addLockWaitFlag(fs *pflag.FlagSet, wait *time.Duration) {
	fs.DurationVar(wait, "lock-timeout", defaultLockWait, "how long to wait for a checkpoint database another process holds")
	atLeast(fs, "lock-timeout", "1ns") // 0 would make bbolt wait forever
}

// writeWorld prints v as tables: generations, header, tasklets, channels.
func writeWorld(w io.Writer, v *worldView, limit int) error {
	var b bytes.Buffer
	if v.Type == "snapshot" {
		fmt.Fprintf(&b, "snapshot file %s: generation %d, saved %s\n", v.File, v.Gen, v.Time.Format(time.DateTime))
	} else {
		fmt.Fprintf(&b, "checkpoint database %s: %d generations\n\n", v.File, len(v.Generations))
		writeGens(&b, v.Generations, limit)
		if v.Header == nil && len(v.Workers) == 0 {
			fmt.Fprintln(&b, "no generations stored")
			return flush(w, &b)
		}
		fmt.Fprintf(&b, "\ngeneration %d, saved %s\n", v.Gen, v.Time.Format(time.DateTime))
	}
	if len(v.Workers) > 0 {
		fmt.Fprintf(&b, "a cluster checkpoint of %d workers\n", len(v.Workers))
		for _, wv := range v.Workers {
			fmt.Fprintf(&b, "worker %d (hosts %v): %d tasklets, %d channels; ", wv.Node, wv.Hosts, wv.Tasklets, wv.Channels)
			writeHeader(&b, wv.Header)
		}
	} else {
		writeHeader(&b, v.Header)
	}

	fmt.Fprintf(&b, "\ntasklets: %d\n", v.nTasklets)
	rows := make([][]string, 0, len(v.Tasklets))
	for _, t := range v.Tasklets {
		waits := t.WaitsOn
		if t.Problem != "" {
			waits = "cannot decode: " + t.Problem
		}
		rows = append(rows, []string{tasklet.ID(t.ID).String(), t.Kind, strconv.FormatUint(uint64(t.Version), 10),
			t.State, dash(waits), strconv.FormatUint(t.Steps, 10), dash(fieldsPreview(t.Fields, fieldsWidth))})
	}
	writeRows(&b, []string{"ID", "KIND", "VERSION", "STATE", "WAITS ON", "STEPS", "FIELDS"}, rows, v.nTasklets, limit, false)

	fmt.Fprintf(&b, "\nchannels: %d\n", v.nChannels)
	rows = rows[:0]
	for _, c := range v.Channels {
		buf := preview(c.Buffer, bufferWidth)
		if c.Problem != "" {
			buf = "cannot decode: " + c.Problem
		}
		rows = append(rows, []string{tasklet.ChanID(c.ID).String(), strconv.Itoa(c.Cap), strconv.Itoa(c.Len),
			strconv.Itoa(c.Balance), yesNo(c.Closed), buf})
	}
	writeRows(&b, []string{"ID", "CAP", "LEN", "BALANCE", "CLOSED", "BUFFER"}, rows, v.nChannels, limit, false)
	return flush(w, &b)
}

// writeHeader prints a world header on a line, and its kinds on the next.
func writeHeader(b *bytes.Buffer, h *headerView) {
	fmt.Fprintf(b, "clock %v, tick %d, steps %d, node %d, run queue %d, timers %d\n",
		h.Clock, h.Tick, h.Steps, h.Node, len(h.RunQueue), len(h.Timers))
	kinds := make([]string, len(h.Kinds))
	for i, k := range h.Kinds {
		kinds[i] = fmt.Sprintf("%s v%d", k.Name, k.Version)
	}
	if len(kinds) > 0 {
		fmt.Fprintf(b, "kinds: %s\n", strings.Join(kinds, ", "))
	}
}

// writeGens prints the generations table; with a limit it keeps the newest.
func writeGens(b *bytes.Buffer, gens []genView, limit int) {
	rows := make([][]string, len(gens))
	for i, g := range gens {
		base := "full"
		if !g.Full {
			base = strconv.FormatUint(g.Base, 10)
		}
		rows[i] = []string{strconv.FormatUint(g.Gen, 10), base, g.Time.Format(time.DateTime),
			strconv.Itoa(g.Records), strconv.Itoa(g.Deleted), strconv.FormatInt(g.Bytes, 10)}
		if g.Time.IsZero() { // a cluster generation whose manifest does not decode
			rows[i] = []string{rows[i][0], "?", "unreadable (inspect --gen " + rows[i][0] + " says why)", "-", "-", "-"}
		}
	}
	writeRows(b, []string{"GEN", "BASE", "TIME", "RECORDS", "DELETED", "BYTES"}, rows, len(rows), limit, true)
}

// writeRows prints an aligned table of at most limit rows (0: all) of
// total, saying how many were left out: the first ones when newest is set
// (the rows are oldest first), else the last ones, which rows may lack as
// they were never decoded.
func writeRows(b *bytes.Buffer, header []string, rows [][]string, total, limit int, newest bool) {
	if len(rows) == 0 {
		return
	}
	more := 0
	if limit > 0 && total > limit {
		more = total - limit
		if newest {
			fmt.Fprintf(b, "... %d older\n", more)
			rows = rows[more:]
		} else {
			rows = rows[:min(limit, len(rows))]
		}
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // writes to a bytes.Buffer: cannot fail
	if more > 0 && !newest {
		fmt.Fprintf(b, "... and %d more\n", more)
	}
}

// flush writes b to w without the trailing spaces tabwriter leaves.
func flush(w io.Writer, b *bytes.Buffer) error {
	for line := range strings.Lines(b.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeTasklet prints one tasklet in full: what it is, what it waits on,
// what was delivered to it, and every field of its behavior, one a line.
func writeTasklet(w io.Writer, v *worldView, t taskletView) error {
	var b bytes.Buffer
	where := v.File
	if v.Type == "store" {
		where = fmt.Sprintf("%s, generation %d", v.File, v.Gen)
	}
	fmt.Fprintf(&b, "tasklet %v of %s\n", tasklet.ID(t.ID), where)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("kind", fmt.Sprintf("%s v%d", t.Kind, t.Version))
	row("state", t.State)
	row("steps", strconv.FormatUint(t.Steps, 10))
	row("waits on", dash(t.WaitsOn))
	if t.Value != nil {
		row("delivered value", previewValue(*t.Value))
	}
	if t.Error != "" {
		row("delivered error", t.Error)
	}
	if t.Problem != "" {
		row("cannot decode", t.Problem)
	}
	_ = tw.Flush() // writes to a bytes.Buffer: cannot fail
	if len(t.Frames) > 0 {
		fmt.Fprintf(&b, "\nsuspended at (outermost first):\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "frame\tfunction\tat\twaits in\n")
		for i, f := range t.Frames {
			fmt.Fprintf(tw, "%d\t%s\t%s:%d\t%s\n", i, f.Function, f.File, f.Line, f.Point)
		}
		_ = tw.Flush()
	} else if t.FramesNote != "" {
		fmt.Fprintf(&b, "\nframes: %s\n", t.FramesNote)
	}
	fmt.Fprintf(&b, "\nfields: %d\n", len(t.Fields))
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, k := range sortedKeys(t.Fields) {
		row(k, fieldText(t.Fields[k]))
	}
	_ = tw.Flush()
	return flush(w, &b)
}

// fieldsText sums a behavior's fields up on one line: "In=ch1 Out=ch2 X=7".
func fieldsText(fields map[string]any) string {
	var b fieldWriter
	b.fields(fields)
	return b.String()
}

// fieldsPreview is truncate(fieldsText(fields), width), but it stops
// rendering once it has more than width runes: a behavior holding a whole
// game world rendered to tens of megabytes for a 60-character cell.
func fieldsPreview(fields map[string]any, width int) string {
	var b fieldWriter
	if width > 3 { // truncate cuts nothing shorter
		b.limit = 4*width + 4 // bytes: more than width runes of up to 4 bytes
	}
	b.fields(fields)
	return truncate(b.String(), width)
}

// fieldText renders one field's value: strings quoted, bytes in hex,
// structs and maps as {K:V ...}, lists as [a b].
func fieldText(x any) string {
	var b fieldWriter
	b.field(x)
	return b.String()
}

// fieldWriter renders fields, up to limit bytes and a little beyond (0:
// all of them).
type fieldWriter struct {
	strings.Builder
	limit int
}

func (b *fieldWriter) full() bool { return b.limit > 0 && b.Len() > b.limit }

func (b *fieldWriter) fields(fields map[string]any) { b.pairs(fields, '=') }

// pairs writes m's keys in order, each followed by sep and its value,
// stopping once the cell is full.
func (b *fieldWriter) pairs(m map[string]any, sep byte) {
	for i, k := range sortedKeys(m) {
		if b.full() {
			return
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte(sep)
		b.field(m[k])
	}
}

func (b *fieldWriter) field(x any) {
	switch v := x.(type) {
	case nil:
		b.WriteString("nil")
	case string:
		b.WriteString(strconv.Quote(v))
	case []byte:
		fmt.Fprintf(b, "0x%x", v)
	case valueView:
		b.WriteString(previewValue(v))
	case map[string]any:
		b.WriteByte('{')
		b.pairs(v, ':')
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if b.full() {
				return
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.field(e)
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, x)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
