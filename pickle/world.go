package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
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
// listing the registry's kinds.
func (r *Registry) DumpHeader(w *scheduler.World) ([]byte, error) {
	return r.encode(nil, func(e *msgpack.Encoder) error { return r.encodeHeader(e, w) })
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
	err := r.decode(b, "world header", func(d *msgpack.Decoder) error { return r.decodeHeader(d, h) })
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
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		v, err := a.add(func(dst []byte) ([]byte, error) { return r.AppendTasklet(dst, ts) })
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
	h, err := r.LoadHeader(meta)
	if err != nil {
		return nil, err
	}
	w := &h.World
	nt := 0
	for _, rec := range recs {
		if len(rec.Key) > 0 && rec.Key[0] == 't' {
			nt++
		}
	}
	w.Tasklets = make([]scheduler.TaskletState, 0, nt)
	w.Channels = make([]scheduler.ChannelState, 0, len(recs)-nt)
	var errs []error
	var sl slabs             // cases, behaviors and waiters (taskfast.go)
	tr := new(TaskletRecord) // reused: its TaskletState is copied out
	for _, rec := range recs {
		tag, id, err := ParseKey(rec.Key)
		if err != nil {
			return nil, err
		}
		if tag == 't' {
			*tr = TaskletRecord{}
			err := r.loadTasklet(rec.Value, tr, false, &sl)
			if err != nil {
				if errors.Is(err, ErrUnknownKind) || errors.Is(err, ErrKindVersion) {
					errs = append(errs, err) // report every kind problem at once
					continue
				}
				return nil, err
			}
			if uint64(tr.ID) != id {
				return nil, fmt.Errorf("pickle: %w: record key %v holds tasklet %v", ErrCorrupt, tasklet.ID(id), tr.ID)
			}
			w.Tasklets = append(w.Tasklets, tr.TaskletState)
			continue
		}
		w.Channels = append(w.Channels, scheduler.ChannelState{})
		cs := &w.Channels[len(w.Channels)-1]
		if err := r.loadChannelInto(rec.Value, cs, sl.waiterSlab()); err != nil {
			return nil, err
		}
		if uint64(cs.ID) != id {
			return nil, fmt.Errorf("pickle: %w: record key %v holds channel %v", ErrCorrupt, channel.ID(id), cs.ID)
		}
	}
	if len(errs) > 0 {
		return nil, kindErrors(errs)
	}
	return w, nil
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
	return r.encode(nil, func(e *msgpack.Encoder) error {
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
	err = r.decode(b, "world", func(d *msgpack.Decoder) error {
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
