package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/store"
)

// A world of 100,000 entities is about 100 MB of records and, decoded into
// views, gigabytes; inspect never needs all of it at once. So a world is
// walked, record by record, instead of loaded: a first walk counts every
// record, decodes the rows a table shows and checks every checksum; -o json
// then walks it again to decode and print each row, and drops it.

// walkFunc walks one stored world: start gets the checkpoint without its
// records, then fn each record in key order (channels, then tasklets),
// valid only during fn. It may be called again and gives the same world.
type walkFunc func(start func(*store.Checkpoint) error, fn func(key, value []byte) error) error

// walker is a store of generations that can walk one (a *store.DB; a
// cluster's JetStream store loads them whole).
type walker interface {
	Walk(gen uint64, start func(*store.Checkpoint) error, fn func(key, value []byte) error) error
}

// walkOf walks generation gen of g, or, when g cannot walk, the loaded
// checkpoint. Every walk of a bbolt database is a read transaction of its
// own, yet all see one version: the database stays open, under bbolt's
// shared lock, until the command ends, and a process that writes it needs
// the exclusive lock to open it, so none writes between the walks (nor
// prunes or deletes the generation). A cluster's generation is loaded
// once.
func (t *target) walkOf(gen uint64) (walkFunc, error) {
	if w, ok := t.db.(walker); ok {
		return func(start func(*store.Checkpoint) error, fn func(key, value []byte) error) error {
			return w.Walk(gen, start, fn)
		}, nil
	}
	cp, err := t.load(gen)
	if err != nil {
		return nil, err
	}
	return walkLoaded(cp), nil
}

// walkLoaded walks a checkpoint already in memory.
func walkLoaded(cp *store.Checkpoint) walkFunc {
	return func(start func(*store.Checkpoint) error, fn func(key, value []byte) error) error {
		head := *cp
		head.Records = nil
		if err := start(&head); err != nil {
			return err
		}
		for _, r := range cp.Records {
			if err := fn(r.Key, r.Value); err != nil {
				return err
			}
		}
		return nil
	}
}

// worldFill decodes the records of one world into v as they come.
type worldFill struct {
	v      *worldView
	reg    *pickle.Registry
	gen    uint64
	worker uint16
	sleeps map[uint64]time.Duration // when each sleeping tasklet wakes
}

// newWorldFill decodes a world's header meta, ready for its records.
func newWorldFill(v *worldView, reg *pickle.Registry, gen uint64, meta []byte, worker uint16) (*worldFill, *pickle.Header, error) {
	h, err := reg.LoadHeader(meta)
	if err != nil {
		return nil, nil, fmt.Errorf("the world header of generation %d does not decode: %w", gen, err)
	}
	f := &worldFill{v: v, reg: reg, gen: gen, worker: worker, sleeps: map[uint64]time.Duration{}}
	for _, tm := range h.Timers {
		if tm.Case == -1 {
			f.sleeps[uint64(tm.Tasklet)] = tm.At
		}
	}
	return f, h, nil
}

// record counts one record and decodes it into v if v shows it. value is
// not kept past the call: a walk's records are only valid during it.
func (f *worldFill) record(key, value []byte) error {
	tag, id, err := pickle.ParseKey(key)
	if err != nil {
		return fmt.Errorf("generation %d: %w", f.gen, err)
	}
	v := f.v
	if tag == 't' {
		v.nTasklets++
		if v.stream || !v.decodes(&v.Tasklets, id) {
			return nil
		}
		tv := f.tasklet(id, value)
		if v.only != 0 { // for framesOf, after the walk
			tv.raw = slices.Clone(value)
		}
		v.Tasklets = append(v.Tasklets, tv)
		return nil
	}
	v.nChannels++
	if v.stream || v.only != 0 || (v.keep > 0 && len(v.Channels) >= v.keep) {
		return nil
	}
	v.Channels = append(v.Channels, f.channel(id, value))
	return nil
}

func (f *worldFill) tasklet(id uint64, value []byte) taskletView {
	tv := taskletOf(f.reg, id, value, f.sleeps)
	tv.Worker = f.worker
	return tv
}

func (f *worldFill) channel(id uint64, value []byte) channelView {
	cv := channelOf(f.reg, id, value)
	cv.Worker = f.worker
	return cv
}

// fillFrom fills v with the world walk gives: its header and counts, and
// the rows v shows. A cluster checkpoint's records are split by worker
// only whole, so it is collected and filled as before, every row decoded.
func fillFrom(v *worldView, walk walkFunc) error {
	reg := inspectRegistry()
	var whole *store.Checkpoint // a cluster checkpoint, collected
	start := func(cp *store.Checkpoint) error {
		v.Gen, v.Time = cp.Gen, cp.Time
		v.Tasklets, v.Channels = []taskletView{}, []channelView{}
		v.nTasklets, v.nChannels = 0, 0
		if cluster.IsCheckpoint(cp.Meta) {
			whole = cp
			return nil
		}
		f, h, err := newWorldFill(v, reg, cp.Gen, cp.Meta, 0)
		if err != nil {
			return err
		}
		v.fill, v.Header = f, headerOf(h)
		return nil
	}
	err := walk(start, func(key, value []byte) error {
		if whole != nil {
			whole.Records = append(whole.Records, store.Record{Key: slices.Clone(key), Value: slices.Clone(value)})
			return nil
		}
		return v.fill.record(key, value)
	})
	if err != nil || whole == nil {
		return err
	}
	v.stream, v.fill = false, nil
	return fillWorld(v, whole)
}

// writeWorldJSON prints v as writeJSON would, but with a streamed world
// (v.stream after fillFrom) decodes each tasklet and channel only to print
// it: nothing of the world's rows is held.
func writeWorldJSON(w io.Writer, v *worldView) error {
	if !v.stream || v.walk == nil {
		return writeJSON(w, v)
	}
	// Everything before the rows, as writeJSON prints it: the rows are the
	// last two fields, printed empty here and then cut off.
	head := *v
	head.Tasklets, head.Channels = []taskletView{}, []channelView{}
	var b bytes.Buffer
	if err := writeJSON(&b, &head); err != nil {
		return err
	}
	const emptyRows = "\"tasklets\": [],\n  \"channels\": []\n}\n"
	prefix, ok := bytes.CutSuffix(b.Bytes(), []byte(emptyRows))
	if !ok {
		return fmt.Errorf("inspect: the JSON of a world no longer ends in its tasklets and channels; this is a bug of stackless inspect: use --tasklet ID, or a table, meanwhile")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(prefix)
	for _, tag := range []byte{'t', 'c'} {
		if tag == 't' {
			bw.WriteString(`"tasklets": `)
		} else {
			bw.WriteString(",\n  \"channels\": ")
		}
		rows := newJSONRows(bw)
		err := v.walk(func(cp *store.Checkpoint) error {
			// Every walk reads one version (target.file, walkOf): this
			// stops a mix of two worlds should that ever break.
			if cp.Gen != v.Gen || !cp.Time.Equal(v.Time) {
				return fmt.Errorf("%s changed while inspect read it (generation %d of %s, now %d of %s): run inspect again",
					v.File, v.Gen, v.Time.Format(time.DateTime), cp.Gen, cp.Time.Format(time.DateTime))
			}
			return nil
		}, func(key, value []byte) error {
			if key[0] != tag { // keys were checked by fillFrom
				return nil
			}
			_, id, _ := pickle.ParseKey(key)
			if tag == 't' {
				return rows.add(v.fill.tasklet(id, value))
			}
			return rows.add(v.fill.channel(id, value))
		})
		if err != nil {
			return err
		}
		rows.end()
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// jsonRows prints a JSON array of a world's rows, one at a time, indented
// as writeJSON indents the rows of a worldView. Each row is encoded
// straight into the output: a big one (the game AI's world) is not copied.
type jsonRows struct {
	w   *bufio.Writer
	n   int
	enc *json.Encoder
}

func newJSONRows(w *bufio.Writer) *jsonRows {
	r := &jsonRows{w: w}
	r.enc = json.NewEncoder(noNewline{w})
	r.enc.SetIndent("    ", "  ")
	return r
}

func (r *jsonRows) add(row any) error {
	if r.n == 0 {
		r.w.WriteString("[\n    ")
	} else {
		r.w.WriteString(",\n    ")
	}
	r.n++
	return r.enc.Encode(row)
}

// end closes the array; bufio.Writer keeps a write error for Flush.
func (r *jsonRows) end() {
	if r.n == 0 {
		r.w.WriteString("[]")
	} else {
		r.w.WriteString("\n  ]")
	}
}

// noNewline drops the newline json.Encoder ends each value with (it
// writes a value in one Write): a row is followed by "," or "]".
type noNewline struct{ w io.Writer }

func (n noNewline) Write(p []byte) (int, error) {
	if _, err := n.w.Write(bytes.TrimSuffix(p, []byte("\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
