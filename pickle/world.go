package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Record is one keyed record of a world: a tasklet or a channel.
type Record struct {
	Key   []byte
	Value []byte
}

// TaskletKey is the record key of a tasklet: 't' and the big-endian ID, so
// records sort by ID.
func TaskletKey(id tasklet.ID) []byte { return appendKey(nil, 't', uint64(id)) }

// ChannelKey is the record key of a channel.
func ChannelKey(id channel.ID) []byte { return appendKey(nil, 'c', uint64(id)) }

func appendKey(dst []byte, tag byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, tag), id)
}

// ParseKey splits a record key into its tag ('t' or 'c') and ID.
func ParseKey(k []byte) (tag byte, id uint64, err error) {
	if len(k) != 9 || (k[0] != 't' && k[0] != 'c') {
		return 0, 0, fmt.Errorf("pickle: %w: bad record key %q", ErrCorrupt, k)
	}
	return k[0], binary.BigEndian.Uint64(k[1:]), nil
}

// KindVersion is a kind name and version as listed in a world header.
type KindVersion struct {
	Name    string
	Version uint32
}

// Header is a world without its tasklets and channels.
type Header struct {
	scheduler.World // Tasklets and Channels are empty
	Kinds           []KindVersion
}

const headerFields = 12

// DumpHeader encodes everything of a world but its tasklets and channels,
// listing the registry's kinds. The header holds a line per runnable
// tasklet and per timer, so it grows with the world and is bounded as a
// world is (SetMaxWorld), not as a record: a million sleepers made a 26 MB
// header, and no checkpoint of them could be taken.
func (r *Registry) DumpHeader(w *scheduler.World) ([]byte, error) {
	return r.encodeMax(nil, r.maxWorld, "SetMaxWorld", func(e *msgpack.Encoder) error { return r.encodeHeader(e, w) })
}

func (r *Registry) encodeHeader(e *msgpack.Encoder, w *scheduler.World) error {
	e.EncodeArrayLen(headerFields)
	e.EncodeString("h")
	e.EncodeUint(FormatVersion)
	e.EncodeUint(uint64(w.Node))
	e.EncodeInt(int64(w.Clock))
	e.EncodeUint(w.NextTasklet)
	e.EncodeUint(w.NextChannel)
	e.EncodeUint(uint64(w.Tick))
	e.EncodeUint(w.Steps)
	e.EncodeUint(w.TimerSeq)
	kinds := r.Kinds()
	e.EncodeArrayLen(len(kinds))
	for _, k := range kinds {
		e.EncodeArrayLen(2)
		e.EncodeString(k.Name)
		e.EncodeUint(uint64(k.Version))
	}
	e.EncodeArrayLen(len(w.RunQueue))
	for _, id := range w.RunQueue {
		e.EncodeUint(uint64(id))
	}
	e.EncodeArrayLen(len(w.Timers))
	for _, tm := range w.Timers {
		e.EncodeArrayLen(4)
		e.EncodeInt(int64(tm.At))
		e.EncodeUint(tm.Seq)
		e.EncodeUint(uint64(tm.Tasklet))
		e.EncodeInt(int64(tm.Case))
	}
	return nil
}

// LoadHeader decodes a world header.
func (r *Registry) LoadHeader(b []byte) (*Header, error) {
	h := new(Header)
	err := r.decodeMax(b, "world header", r.maxWorld, func(d *msgpack.Decoder) error { return r.decodeHeader(d, h) })
	return h, err
}

func (r *Registry) decodeHeader(d *msgpack.Decoder, h *Header) error {
	if err := header(d, headerFields, "h"); err != nil {
		return err
	}
	var err error
	u := func() uint64 {
		var v uint64
		if err == nil {
			v, err = d.DecodeUint64()
		}
		return v
	}
	i := func() int64 {
		var v int64
		if err == nil {
			v, err = d.DecodeInt64()
		}
		return v
	}
	node := u()
	h.Clock = time.Duration(i())
	h.NextTasklet, h.NextChannel = u(), u()
	tick := u()
	h.Steps, h.TimerSeq = u(), u()
	if err != nil {
		return err
	}
	if node > 1<<16-1 || tick > 1<<32-1 {
		return fmt.Errorf("%w: header node %d, tick %d", ErrCorrupt, node, tick)
	}
	h.Node, h.Tick = uint16(node), uint32(tick)
	n, err := listLen(d)
	if err != nil {
		return err
	}
	for range n {
		if err := arrayOf(d, 2, "kind"); err != nil {
			return err
		}
		name, err := d.DecodeString()
		if err != nil {
			return err
		}
		v, err := d.DecodeUint64()
		if err != nil {
			return err
		}
		h.Kinds = append(h.Kinds, KindVersion{name, uint32(v)})
	}
	if n, err = listLen(d); err != nil {
		return err
	}
	if n > 0 {
		h.RunQueue = make([]tasklet.ID, n)
	}
	for j := range h.RunQueue {
		h.RunQueue[j] = tasklet.ID(u())
	}
	if err != nil { // checked before the next read, which would overwrite it
		return fmt.Errorf("run queue: %w", err)
	}
	if n, err = listLen(d); err != nil {
		return err
	}
	for range n {
		if err := arrayOf(d, 4, "timer"); err != nil {
			return err
		}
		tm := scheduler.TimerState{At: time.Duration(i()), Seq: u(), Tasklet: tasklet.ID(u()), Case: int(i())}
		if err != nil {
			return fmt.Errorf("timer: %w", err)
		}
		h.Timers = append(h.Timers, tm)
	}
	return nil
}

// EncodeWorld encodes a world as a header and one record per tasklet and
// channel, in key order. Record values share a few large buffers.
func (r *Registry) EncodeWorld(w *scheduler.World) (meta []byte, recs []Record, err error) {
	if meta, err = r.DumpHeader(w); err != nil {
		return nil, nil, err
	}
	recs = make([]Record, 0, len(w.Tasklets)+len(w.Channels))
	keys := make([]byte, 0, 9*(len(w.Tasklets)+len(w.Channels)))
	var a arena
	tw := r.TaskletWriter()
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		v, err := a.add(func(dst []byte) ([]byte, error) { return tw.Append(dst, ts) })
		if err != nil {
			return nil, nil, err
		}
		keys = appendKey(keys, 't', uint64(ts.ID))
		recs = append(recs, Record{Key: keys[len(keys)-9:], Value: v})
	}
	for i := range w.Channels {
		cs := &w.Channels[i]
		v, err := a.add(func(dst []byte) ([]byte, error) { return r.AppendChannel(dst, cs) })
		if err != nil {
			return nil, nil, err
		}
		keys = appendKey(keys, 'c', uint64(cs.ID))
		recs = append(recs, Record{Key: keys[len(keys)-9:], Value: v})
	}
	return meta, recs, nil
}

// arena hands out record buffers carved from 256 KiB chunks.
type arena struct{ buf []byte }

func (a *arena) add(fn func(dst []byte) ([]byte, error)) ([]byte, error) {
	if cap(a.buf)-len(a.buf) < 4096 {
		a.buf = make([]byte, 0, 256<<10)
	}
	free := a.buf[len(a.buf):]
	out, err := fn(free[:0])
	if err != nil {
		return nil, err
	}
	if len(out) <= cap(free) && cap(out) == cap(free) { // written in place
		a.buf = a.buf[:len(a.buf)+len(out)]
		return out[:len(out):len(out)], nil
	}
	return out, nil
}

// DecodeWorld rebuilds a world from a header and its records (any order).
func (r *Registry) DecodeWorld(meta []byte, recs []Record) (*scheduler.World, error) {
	return r.DecodeWorldParallel(meta, recs, 1)
}

// parallelMin is the fewest records DecodeWorldParallel splits.
const parallelMin = 4096

// DecodeWorldParallel is DecodeWorld on up to workers goroutines (for a
// world of at least a few thousand records), each decoding a run of the
// records straight into the world's slices; the runs are cut where the
// record bytes, a rough measure of the work, are shared out evenly. Upgrade
// functions (Upgrade) may then run concurrently. A world that fails to
// decode is decoded again in one piece, for DecodeWorld's error (which
// names every kind problem of the world at once).
func (r *Registry) DecodeWorldParallel(meta []byte, recs []Record, workers int) (*scheduler.World, error) {
	h, err := r.LoadHeader(meta)
	if err != nil {
		return nil, err
	}
	w := &h.World
	if len(recs) < parallelMin {
		workers = 1
	}
	workers = max(min(workers, 8), 1)
	// Cut the runs, and count the tasklets before each cut.
	const perRecord = 32 // fixed decoding work per record, in bytes
	total := 0
	for _, rec := range recs {
		total += len(rec.Value) + perRecord
	}
	type run struct{ from, to, t, c int } // records from..to-1; first tasklet and channel index
	runs := make([]run, 0, workers)
	nt, sum, from := 0, 0, 0
	for i, rec := range recs {
		if len(runs) < workers-1 && sum >= total*(len(runs)+1)/workers && i > from {
			runs = append(runs, run{from: from, to: i})
			from = i
		}
		sum += len(rec.Value) + perRecord
		if len(rec.Key) > 0 && rec.Key[0] == 't' {
			nt++
		}
	}
	runs = append(runs, run{from: from, to: len(recs)})
	t, c := 0, 0
	for i := range runs {
		runs[i].t, runs[i].c = t, c
		for _, rec := range recs[runs[i].from:runs[i].to] {
			if len(rec.Key) > 0 && rec.Key[0] == 't' {
				t++
			} else {
				c++
			}
		}
	}
	w.Tasklets = make([]scheduler.TaskletState, nt)
	w.Channels = make([]scheduler.ChannelState, len(recs)-nt)

	if len(runs) == 1 {
		if _, err := r.decodeRecords(recs, w.Tasklets, w.Channels); err != nil {
			return nil, err
		}
		return w, nil
	}
	errs := make([]error, len(runs))
	panics := make([]any, len(runs))
	var wg sync.WaitGroup
	for i := range runs {
		ru := runs[i]
		tend := nt
		if i+1 < len(runs) {
			tend = runs[i+1].t
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The records may be mapped from a file: a fault reading them
			// is a panic, and a panic (of an upgrade function, say) goes
			// on in the caller's goroutine, as if decoded there.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if p := recover(); p != nil {
					panics[i] = p
				}
			}()
			kept, err := r.decodeRecords(recs[ru.from:ru.to], w.Tasklets[ru.t:tend], w.Channels[ru.c:])
			if err == nil && kept != tend-ru.t {
				err = errKindProblems
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	if errors.Join(errs...) != nil {
		return r.DecodeWorld(meta, recs)
	}
	return w, nil
}

// errKindProblems marks a run with kind problems (reported by DecodeWorld).
var errKindProblems = errors.New("pickle: tasklets with kind problems")

// decodeRecords decodes recs into ts and cs (zero, with room for every
// tasklet and channel of recs) in order, and returns how many tasklets it
// decoded: fewer than recs holds only with the kind problems it returns.
func (r *Registry) decodeRecords(recs []Record, ts []scheduler.TaskletState, cs []scheduler.ChannelState) (int, error) {
	var errs []error
	var sl slabs             // cases, behaviors and waiters (taskfast.go)
	tr := new(TaskletRecord) // reused: its TaskletState is copied out
	nt, nc := 0, 0
	for _, rec := range recs {
		tag, id, err := ParseKey(rec.Key)
		if err != nil {
			return nt, err
		}
		if tag == 't' {
			*tr = TaskletRecord{}
			err := r.loadTasklet(rec.Value, tr, false, &sl)
			if err != nil {
				if errors.Is(err, ErrUnknownKind) || errors.Is(err, ErrKindVersion) {
					errs = append(errs, err) // report every kind problem at once
					continue
				}
				return nt, err
			}
			if uint64(tr.ID) != id {
				return nt, fmt.Errorf("pickle: %w: record key %v holds tasklet %v", ErrCorrupt, tasklet.ID(id), tr.ID)
			}
			ts[nt] = tr.TaskletState
			nt++
			continue
		}
		c := &cs[nc]
		nc++
		if err := r.loadChannelInto(rec.Value, c, sl.waiterSlab()); err != nil {
			return nt, err
		}
		if uint64(c.ID) != id {
			return nt, fmt.Errorf("pickle: %w: record key %v holds channel %v", ErrCorrupt, channel.ID(id), c.ID)
		}
	}
	if len(errs) > 0 {
		return nt, kindErrors(errs)
	}
	return nt, nil
}

// kindErrors joins kind problems, keeping at most a few messages.
func kindErrors(errs []error) error {
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("pickle: and %d more tasklets with kind problems", len(errs)-5))
	}
	return errors.Join(errs...)
}

const worldFields = 5

// DumpWorld encodes a whole world as one blob: a header, then every tasklet
// and channel record.
func (r *Registry) DumpWorld(w *scheduler.World) ([]byte, error) {
	meta, recs, err := r.EncodeWorld(w)
	if err != nil {
		return nil, err
	}
	return r.encodeMax(nil, r.maxWorld, "SetMaxWorld", func(e *msgpack.Encoder) error {
		e.EncodeArrayLen(worldFields)
		e.EncodeString("w")
		e.EncodeUint(FormatVersion)
		e.Encode(msgpack.RawMessage(meta))
		e.EncodeArrayLen(len(recs))
		for _, rec := range recs {
			e.EncodeArrayLen(2)
			e.EncodeBytes(rec.Key)
			e.Encode(msgpack.RawMessage(rec.Value))
		}
		return e.EncodeNil()
	})
}

// LoadWorld decodes a blob written by DumpWorld.
func (r *Registry) LoadWorld(b []byte) (*scheduler.World, error) {
	meta, recs, err := r.SplitWorld(b)
	if err != nil {
		return nil, err
	}
	return r.DecodeWorld(meta, recs)
}

// SplitWorld splits a blob written by DumpWorld into its header and
// records without decoding them, for readers that do not know the kinds
// (LoadHeader, Inspect and InspectChannel take them from there).
func (r *Registry) SplitWorld(b []byte) (meta []byte, recs []Record, err error) {
	err = r.decodeMax(b, "world", r.maxWorld, func(d *msgpack.Decoder) error {
		if err := header(d, worldFields, "w"); err != nil {
			return err
		}
		raw, err := d.DecodeRaw()
		if err != nil {
			return err
		}
		meta = raw
		n, err := listLen(d)
		if err != nil {
			return err
		}
		recs = make([]Record, 0, n)
		for range n {
			if err := arrayOf(d, 2, "world record"); err != nil {
				return err
			}
			k, err := d.DecodeBytes()
			if err != nil {
				return err
			}
			v, err := d.DecodeRaw()
			if err != nil {
				return err
			}
			recs = append(recs, Record{Key: k, Value: v})
		}
		return d.DecodeNil()
	})
	if err != nil {
		return nil, nil, err
	}
	return meta, recs, nil
}
