package pickle

import (
	"bytes"
	"fmt"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// TaskletRecord is a decoded tasklet with its kind. Fields holds the
// behavior's fields as plain msgpack values when the record was read with
// Inspect (the behavior itself is then nil).
type TaskletRecord struct {
	scheduler.TaskletState
	Kind    string
	Version uint32
	Fields  map[string]any
}

const taskletFields = 15

// AppendTasklet appends the record of one tasklet to dst.
func (r *Registry) AppendTasklet(dst []byte, ts *scheduler.TaskletState) ([]byte, error) {
	k, err := r.KindOf(ts.Behavior)
	if err != nil {
		return dst, fmt.Errorf("pickle: tasklet %v: %w", ts.ID, err)
	}
	return r.appendTaskletOf(dst, ts, k, nil)
}

// TaskletWriter is AppendTasklet for one goroutine writing many tasklets:
// it remembers the kind of the last behavior type, so a world of a few
// kinds looks each up once instead of taking the registry's lock and a map
// lookup per tasklet (both goroutines of a checkpoint took that lock
// 100,000 times).
type TaskletWriter struct {
	reg  *Registry
	typ  reflect.Type
	kind *Kind
	held *heldSet // what the tasklets of the save hold (refcheck.go)
}

// TaskletWriter returns a writer of tasklet records with r's kinds; use
// each from one goroutine, for one save: it also refuses (ErrShared) a
// value that two of the tasklets it writes hold through pointers.
func (r *Registry) TaskletWriter() *TaskletWriter { return &TaskletWriter{reg: r} }

// Append appends the record of one tasklet to dst, as AppendTasklet does.
func (w *TaskletWriter) Append(dst []byte, ts *scheduler.TaskletState) ([]byte, error) {
	if t := reflect.TypeOf(ts.Behavior); t == nil || t != w.typ {
		k, err := w.reg.KindOf(ts.Behavior)
		if err != nil {
			return dst, fmt.Errorf("pickle: tasklet %v: %w", ts.ID, err)
		}
		w.typ, w.kind = t, k
	}
	if w.held == nil {
		w.held = new(heldSet)
	}
	return w.reg.appendTaskletOf(dst, ts, w.kind, w.held)
}

// Fork returns a writer for another goroutine writing tasklets of the same
// save: the two refuse a value that tasklets of both hold. Fork every
// writer before any of them writes.
func (w *TaskletWriter) Fork() *TaskletWriter {
	if w.held == nil {
		w.held = new(heldSet)
	}
	w.held.shared = true
	return &TaskletWriter{reg: w.reg, held: w.held}
}

// appendTaskletOf appends the record of a tasklet of kind k; held is what
// the other tasklets of the save hold, or nil.
func (r *Registry) appendTaskletOf(dst []byte, ts *scheduler.TaskletState, k *Kind, held *heldSet) ([]byte, error) {
	if k.walk { // pointers, maps or interfaces in its state (refcheck.go)
		if err := checkKind(k, ts.Behavior, held, ts.ID); err != nil {
			return dst, fmt.Errorf("pickle: tasklet %v (kind %s): %w", ts.ID, k.Name, err)
		}
	}
	out, ok := appendTaskletFast(dst, ts, k) // taskfast.go
	if ok && len(out)-len(dst) > r.maxRecord {
		return dst, fmt.Errorf("pickle: tasklet %v (kind %s): pickle: %w: %d bytes, the limit is %d (Registry.SetMaxRecord)", ts.ID, k.Name, ErrTooLarge, len(out)-len(dst), r.maxRecord)
	}
	if !ok {
		var err error
		if out, err = r.appendTaskletMsgpack(dst, ts, k); err != nil {
			return dst, err
		}
	}
	if k.info.amp { // the load's own check of the behavior, the record's last field
		if err := checkWritten(lastField(out[len(dst):]), k.typ); err != nil {
			return dst, fmt.Errorf("pickle: tasklet %v (kind %s): %w", ts.ID, k.Name, err)
		}
	}
	return out, nil
}

// lastField returns the last element of rec, an array the encoder wrote.
func lastField(rec []byte) []byte {
	c := cursor{b: rec}
	n := c.arrayLen()
	for range n - 1 {
		c.raw()
	}
	if c.err != nil {
		return nil
	}
	return rec[c.off:]
}

// appendTaskletMsgpack writes any tasklet record through msgpack's encoder.
func (r *Registry) appendTaskletMsgpack(dst []byte, ts *scheduler.TaskletState, k *Kind) ([]byte, error) {
	out, err := r.encode(dst, func(e *msgpack.Encoder) error {
		e.EncodeArrayLen(taskletFields)
		e.EncodeString("t")
		e.EncodeUint(FormatVersion)
		e.EncodeUint(uint64(ts.ID))
		e.EncodeString(k.Name)
		e.EncodeUint(uint64(k.Version))
		e.EncodeUint(uint64(ts.State))
		e.EncodeUint(uint64(ts.Flags))
		e.EncodeUint(ts.Steps)
		e.EncodeUint(uint64(ts.Wait))
		e.EncodeInt(int64(ts.Chosen))
		e.EncodeBool(ts.Plain)
		if err := r.encodeValue(e, ts.Value); err != nil {
			return err
		}
		r.encodeError(e, ts.Err)
		if err := r.encodeCases(e, ts.Cases); err != nil {
			return err
		}
		return encodeBehavior(e, k, ts.Behavior) // msgpack's bytes, via a struct plan
	})
	if err != nil {
		return dst, fmt.Errorf("pickle: tasklet %v (kind %s): %w", ts.ID, k.Name, err)
	}
	return out, nil
}

// DumpTasklet returns the record of one tasklet.
func (r *Registry) DumpTasklet(ts *scheduler.TaskletState) ([]byte, error) {
	return r.AppendTasklet(nil, ts)
}

// LoadTasklet decodes a tasklet record into a behavior of its registered
// kind, upgrading old versions where an upgrade is registered.
func (r *Registry) LoadTasklet(b []byte) (*TaskletRecord, error) {
	rec := new(TaskletRecord)
	return rec, r.loadTasklet(b, rec, false, nil)
}

// Inspect decodes a tasklet record without needing its kind or its value
// types registered: the behavior's fields come back as plain values in
// Fields, and values of unregistered types as Opaque. It is for showing a
// world, not for restoring one.
func (r *Registry) Inspect(b []byte) (*TaskletRecord, error) {
	rec := new(TaskletRecord)
	return rec, r.loadTasklet(b, rec, true, nil)
}

// loadTasklet decodes a tasklet record into rec (which must be zero),
// carving cases and behaviors from sl when it is not nil.
func (r *Registry) loadTasklet(b []byte, rec *TaskletRecord, loose bool, sl *slabs) error {
	if len(b) > r.maxRecord {
		return fmt.Errorf("pickle: tasklet record: %w: %d bytes, the limit is %d", ErrTooLarge, len(b), r.maxRecord)
	}
	if !loose && r.loadTaskletFast(b, rec, sl) { // taskfast.go
		return nil
	}
	*rec = TaskletRecord{}
	return r.loadTaskletMsgpack(b, rec, loose)
}

// loadTaskletMsgpack decodes any tasklet record (after Scan) with msgpack's
// decoder for what follows the fixed fields.
func (r *Registry) loadTaskletMsgpack(b []byte, rec *TaskletRecord, loose bool) error {
	if err := ScanAll(b, Limits{}); err != nil {
		return fmt.Errorf("pickle: tasklet record: %w", err)
	}
	c := cursor{b: b}
	kind, err := readFixed(&c, rec)
	if err != nil {
		return err
	}
	k := r.kind(string(kind))
	if k != nil {
		rec.Kind = k.Name // interned: no allocation per record
	} else {
		rec.Kind = string(kind)
	}
	d := decoders.Get().(*decoder)
	defer decoders.Put(d)
	d.rd.Reset(b[c.off:])
	resetDecoder(d.dec, &d.rd)
	err = run(func() error { return r.decodeTaskletRest(d.dec, rec, loose) })
	if err == nil && d.rd.Len() != 0 {
		err = fmt.Errorf("%w: %d bytes left unread", ErrCorrupt, d.rd.Len())
	}
	d.rd.Reset(nil)
	if err != nil {
		return fmt.Errorf("pickle: tasklet %v: %w", rec.ID, corrupt(err))
	}
	return nil
}

// readFixed reads a tasklet record's envelope and fixed fields into rec
// and returns its kind name (in b).
func readFixed(c *cursor, rec *TaskletRecord) (kind []byte, err error) {
	if err := c.envelope(taskletFields, "t"); err != nil {
		return nil, fmt.Errorf("pickle: tasklet record: %w", err)
	}
	rec.ID = tasklet.ID(c.uint())
	kind = c.str()
	ver, state := c.uint(), c.uint()
	flags, steps, wait := c.uint(), c.uint(), c.uint()
	rec.Flags, rec.Steps, rec.Wait = uint8(flags), steps, uint32(wait)
	rec.Chosen, rec.Plain = int(c.int()), c.bool()
	if c.err != nil {
		return nil, fmt.Errorf("pickle: tasklet record: %w", c.err)
	}
	if ver > 1<<32-1 || state >= uint64(tasklet.Dead) || flags > 1<<8-1 || wait > 1<<32-1 {
		return nil, fmt.Errorf("pickle: tasklet %v: %w: version %d, state %d, flags %d, wait %d", rec.ID, ErrCorrupt, ver, state, flags, wait)
	}
	rec.Version, rec.State = uint32(ver), tasklet.State(state)
	return kind, nil
}

func (r *Registry) decodeTaskletRest(d *msgpack.Decoder, rec *TaskletRecord, loose bool) error {
	val := r.decodeValue
	if loose {
		val = r.inspectValue
	}
	var err error
	if rec.Value, err = val(d); err != nil {
		return err
	}
	if rec.Err, err = r.decodeError(d); err != nil {
		return err
	}
	if rec.Cases, err = r.decodeCases(d, val); err != nil {
		return err
	}
	if loose {
		v, err := d.DecodeInterfaceLoose()
		if m, ok := v.(map[string]any); ok {
			rec.Fields = m
		}
		return err
	}
	rec.Behavior, err = r.decodeBehavior(d, rec.ID, rec.Kind, rec.Version)
	return err
}

func (r *Registry) decodeBehavior(d *msgpack.Decoder, _ tasklet.ID, name string, ver uint32) (tasklet.Behavior, error) {
	k := r.kind(name)
	if k == nil {
		return nil, fmt.Errorf("kind %q (version %d): %w in this program; register it with pickle.Register, or read the data with the program that wrote it", name, ver, ErrUnknownKind)
	}
	if ver != k.Version {
		up := k.upgrade[ver]
		if up == nil {
			return nil, fmt.Errorf("kind %q was saved at version %d but this program has version %d and no upgrade from %d: %w; register pickle.Upgrade(%d, ...) or load with the program that saved it",
				name, ver, k.Version, ver, ErrKindVersion, ver)
		}
		raw, err := d.DecodeRaw()
		if err != nil {
			return nil, err
		}
		var b tasklet.Behavior
		err = run(func() (err error) { b, err = up(raw, r); return err })
		if err != nil { // the record is fine; this program cannot take it
			return nil, fmt.Errorf("upgrading kind %q from version %d to %d: %w: %w", name, ver, k.Version, ErrKindVersion, err)
		}
		if reflect.TypeOf(b) != r.protoType(k) {
			return nil, fmt.Errorf("the upgrade of kind %q returned %T, want %v: %w", name, b, r.protoType(k), ErrKindVersion)
		}
		return b, nil
	}
	if rd, ok := d.Buffered().(*bytes.Reader); ok {
		if err := checkCost(unread(rd), k.typ); err != nil { // cost.go
			return nil, fmt.Errorf("kind %q: %w", name, err)
		}
	}
	if b, ok, err := decodePlanned(d, k); ok { // structcodec.go
		return b, err
	}
	p := reflect.New(k.typ)
	if err := d.Decode(p.Interface()); err != nil {
		return nil, fmt.Errorf("kind %q: %w", name, err)
	}
	if k.ptr {
		return p.Interface().(tasklet.Behavior), nil
	}
	b, ok := p.Elem().Interface().(tasklet.Behavior)
	if !ok {
		return nil, fmt.Errorf("kind %q: %v does not implement Step", name, k.typ)
	}
	return b, nil
}

func (r *Registry) protoType(k *Kind) reflect.Type {
	if k.ptr {
		return reflect.PointerTo(k.typ)
	}
	return k.typ
}

func (r *Registry) encodeCases(e *msgpack.Encoder, cases []tasklet.Case) error {
	if len(cases) == 0 {
		return e.EncodeNil()
	}
	e.EncodeArrayLen(len(cases))
	for i, c := range cases {
		// What the decoder refuses is not written: a save that does not load
		// loses every tasklet in it, not only this one.
		if c.Dir > tasklet.DirDo {
			return fmt.Errorf("%w: select case %d has direction %d, which no load accepts", ErrCorrupt, i, c.Dir)
		}
		if c.Dir == tasklet.DirDo && c.Effect == "" {
			return fmt.Errorf("%w: effect case %d names no effect, which no load accepts", ErrCorrupt, i)
		}
		// An effect case has a fifth field, its effect's name; the others
		// keep the four fields older records have.
		if c.Dir == tasklet.DirDo {
			e.EncodeArrayLen(5)
		} else {
			e.EncodeArrayLen(4)
		}
		e.EncodeUint(uint64(c.Dir))
		e.EncodeUint(uint64(c.Chan))
		if err := r.encodeValue(e, c.Value); err != nil {
			return err
		}
		e.EncodeInt(int64(c.Timeout))
		if c.Dir == tasklet.DirDo {
			e.EncodeString(c.Effect)
		}
	}
	return nil
}

// valueFunc decodes one typed value: strictly (decodeValue) or loosely,
// for showing a world (inspectValue).
type valueFunc func(*msgpack.Decoder) (any, error)

func (r *Registry) decodeCases(d *msgpack.Decoder, val valueFunc) ([]tasklet.Case, error) {
	n, err := listLen(d)
	if err != nil || n == 0 {
		return nil, err
	}
	cases := make([]tasklet.Case, n)
	for i := range cases {
		fields, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		dir, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if dir > uint64(tasklet.DirDo) {
			return nil, fmt.Errorf("%w: select case direction %d", ErrCorrupt, dir)
		}
		if want := caseFields(tasklet.Dir(dir)); fields != want {
			return nil, fmt.Errorf("%w: select case (%v) has %d fields, want %d", ErrCorrupt, tasklet.Dir(dir), fields, want)
		}
		ch, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		v, err := val(d)
		if err != nil {
			return nil, err
		}
		to, err := d.DecodeInt64()
		if err != nil {
			return nil, err
		}
		cases[i] = tasklet.Case{Dir: tasklet.Dir(dir), Chan: tasklet.ChanID(ch), Value: v, Timeout: time.Duration(to)}
		if cases[i].Dir == tasklet.DirDo {
			if cases[i].Effect, err = d.DecodeString(); err != nil {
				return nil, err
			}
			if cases[i].Effect == "" {
				return nil, fmt.Errorf("%w: effect case %d names no effect", ErrCorrupt, i)
			}
		}
	}
	return cases, nil
}

// caseFields is how many fields a select case of direction dir has.
func caseFields(dir tasklet.Dir) int {
	if dir == tasklet.DirDo {
		return 5
	}
	return 4
}

const channelFields = 10

// AppendChannel appends the record of one channel to dst.
func (r *Registry) AppendChannel(dst []byte, cs *scheduler.ChannelState) ([]byte, error) {
	if out, ok := appendChannelFast(dst, cs); ok { // taskfast.go
		if len(out)-len(dst) > r.maxRecord {
			return dst, fmt.Errorf("pickle: channel %v: pickle: %w: %d bytes, the limit is %d (Registry.SetMaxRecord)", cs.ID, ErrTooLarge, len(out)-len(dst), r.maxRecord)
		}
		return out, nil
	}
	return r.appendChannelMsgpack(dst, cs)
}

// appendChannelMsgpack writes any channel record through msgpack's encoder.
func (r *Registry) appendChannelMsgpack(dst []byte, cs *scheduler.ChannelState) ([]byte, error) {
	out, err := r.encode(dst, func(e *msgpack.Encoder) error {
		e.EncodeArrayLen(channelFields)
		e.EncodeString("c")
		e.EncodeUint(FormatVersion)
		e.EncodeUint(uint64(cs.ID))
		e.EncodeUint(uint64(cs.Cap))
		e.EncodeInt(int64(cs.Preference))
		e.EncodeBool(cs.ScheduleAll)
		e.EncodeBool(cs.Closed)
		e.EncodeArrayLen(len(cs.Buffer))
		for _, v := range cs.Buffer {
			if err := r.encodeValue(e, v); err != nil {
				return err
			}
		}
		for _, q := range [][]scheduler.WaiterState{cs.Senders, cs.Receivers} {
			e.EncodeArrayLen(len(q))
			for _, w := range q {
				if w.Remote {
					e.EncodeArrayLen(5)
				} else {
					e.EncodeArrayLen(3)
				}
				e.EncodeUint(uint64(w.Tasklet))
				e.EncodeInt(int64(w.Case))
				if err := r.encodeValue(e, w.Value); err != nil {
					return err
				}
				if w.Remote { // the wait of a tasklet on another node
					e.EncodeUint(uint64(w.Node))
					e.EncodeUint(uint64(w.Seq))
				}
			}
		}
		return nil
	})
	if err != nil {
		return dst, fmt.Errorf("pickle: channel %v: %w", cs.ID, err)
	}
	return out, nil
}

// DumpChannel returns the record of one channel.
func (r *Registry) DumpChannel(cs *scheduler.ChannelState) ([]byte, error) {
	return r.AppendChannel(nil, cs)
}

// LoadChannel decodes a channel record.
func (r *Registry) LoadChannel(b []byte) (*scheduler.ChannelState, error) {
	cs := new(scheduler.ChannelState)
	err := r.loadChannelInto(b, cs, nil) // chanfast.go
	return cs, err
}

func (r *Registry) decodeChannel(d *msgpack.Decoder, cs *scheduler.ChannelState, val valueFunc) error {
	if err := header(d, channelFields, "c"); err != nil {
		return err
	}
	id, err := d.DecodeUint64()
	if err != nil {
		return err
	}
	cs.ID = channel.ID(id)
	capacity, err := d.DecodeUint64()
	if err != nil {
		return err
	}
	if capacity > 1<<31 {
		return fmt.Errorf("%w: channel %v capacity %d", ErrCorrupt, cs.ID, capacity)
	}
	cs.Cap = int(capacity)
	pref, err := d.DecodeInt64()
	if err != nil {
		return err
	}
	cs.Preference = int(pref)
	if cs.ScheduleAll, err = d.DecodeBool(); err != nil {
		return err
	}
	if cs.Closed, err = d.DecodeBool(); err != nil {
		return err
	}
	n, err := listLen(d)
	if err != nil {
		return err
	}
	if n > 0 {
		cs.Buffer = make([]any, n)
	}
	for i := range cs.Buffer {
		if cs.Buffer[i], err = val(d); err != nil {
			return fmt.Errorf("channel %v buffer: %w", cs.ID, err)
		}
	}
	for _, q := range []*[]scheduler.WaiterState{&cs.Senders, &cs.Receivers} {
		n, err := listLen(d)
		if err != nil {
			return err
		}
		for range n {
			fields, err := d.DecodeArrayLen()
			if err != nil {
				return err
			}
			if fields != 3 && fields != 5 {
				return fmt.Errorf("%w: channel waiter has %d fields, want 3 or 5", ErrCorrupt, fields)
			}
			t, err := d.DecodeUint64()
			if err != nil {
				return err
			}
			c, err := d.DecodeInt64()
			if err != nil {
				return err
			}
			v, err := val(d)
			if err != nil {
				return err
			}
			ws := scheduler.WaiterState{Tasklet: tasklet.ID(t), Case: int(c), Value: v}
			if fields == 5 {
				node, err := d.DecodeUint64()
				if err != nil {
					return err
				}
				seq, err := d.DecodeUint64()
				if err != nil {
					return err
				}
				if node > 1<<16-1 || seq > 1<<32-1 {
					return fmt.Errorf("%w: remote waiter node %d seq %d", ErrCorrupt, node, seq)
				}
				ws.Remote, ws.Node, ws.Seq = true, uint16(node), uint32(seq)
			}
			*q = append(*q, ws)
		}
	}
	return nil
}
