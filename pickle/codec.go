package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the version of the record format this build writes and
// reads.
const FormatVersion = 1

// appendWriter lets a msgpack Encoder append to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *appendWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

type encoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = newEncoder(&e.w) // savecheck.go
	return e
}}

// encode appends what fn writes to dst: one record, bounded by maxRecord.
func (r *Registry) encode(dst []byte, fn func(e *msgpack.Encoder) error) ([]byte, error) {
	return r.encodeMax(dst, r.maxRecord, "SetMaxRecord", fn)
}

// encodeMax is encode bounded by limit, which the registry's setter named
// by set changes.
func (r *Registry) encodeMax(dst []byte, limit int, set string, fn func(e *msgpack.Encoder) error) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.w.b = dst
	err := run(func() error { return fn(e.enc) })
	out := e.w.b
	e.w.b = nil
	if errors.Is(err, ErrPanic) {
		return dst, err // the encoder is left mid-value: not pooled
	}
	encoders.Put(e)
	if err != nil {
		return dst, err
	}
	if len(out)-len(dst) > limit {
		return dst, fmt.Errorf("pickle: %w: %d bytes, the limit is %d (Registry.%s)", ErrTooLarge, len(out)-len(dst), limit, set)
	}
	return out, nil
}

type decoder struct {
	rd  bytes.Reader
	dec *msgpack.Decoder
}

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = newDecoder(&d.rd)
	return d
}}

// decode validates b (size, then Scan: one well-formed msgpack value with
// bounded depth and honest lengths) and then runs fn on a decoder over it.
func (r *Registry) decode(b []byte, what string, fn func(d *msgpack.Decoder) error) error {
	return r.decodeMax(b, what, r.maxRecord, fn)
}

// decodeMax is decode bounded by limit.
func (r *Registry) decodeMax(b []byte, what string, limit int, fn func(d *msgpack.Decoder) error) error {
	if len(b) > limit {
		return fmt.Errorf("pickle: %s: %w: %d bytes, the limit is %d", what, ErrTooLarge, len(b), limit)
	}
	if err := ScanAll(b, Limits{}); err != nil {
		return fmt.Errorf("pickle: %s: %w", what, err)
	}
	d := decoders.Get().(*decoder)
	d.rd.Reset(b)
	resetDecoder(d.dec, &d.rd)
	err := run(func() error { return fn(d.dec) })
	if err == nil && d.rd.Len() != 0 {
		err = fmt.Errorf("%w: %d bytes left unread", ErrCorrupt, d.rd.Len())
	}
	d.rd.Reset(nil)
	decoders.Put(d)
	if err != nil {
		return fmt.Errorf("pickle: %s: %w", what, corrupt(err))
	}
	return nil
}

// ErrPanic is wrapped by the error of a save or a load during which a
// method of the program's types panicked: a MarshalMsgpack, an
// UnmarshalMsgpack (a load's error also wraps ErrCorrupt: such a method
// often panics on damaged bytes it does not check), or an Upgrade function.
// The panic is stopped there, so one bad value fails its save or load
// instead of killing the program.
var ErrPanic = errors.New("a method of a saved type panicked")

// run runs fn, which may call the program's own methods, and turns a panic
// into an error wrapping ErrPanic.
func run(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v; the panic was stopped here: fix the method (a MarshalMsgpack, UnmarshalMsgpack, MarshalBinary, Error or Upgrade of this program) so that it returns an error instead", ErrPanic, p)
		}
	}()
	return fn()
}

// ours are the errors a decoder returns on purpose.
var ours = []error{ErrUnknownKind, ErrKindVersion, ErrUnregistered, ErrFormat, ErrTooLarge, ErrCorrupt, ErrMalformed}

// corrupt marks an error of msgpack itself (a value of the wrong type where
// a field was expected) as ErrCorrupt, so callers can tell a damaged record
// from a missing kind with errors.Is.
func corrupt(err error) error {
	for _, e := range ours {
		if errors.Is(err, e) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// decodeInto decodes a whole validated value into v (used by upgrades).
func (r *Registry) decodeInto(b []byte, v any) error {
	if err := checkCost(b, reflect.TypeOf(v).Elem()); err != nil {
		return fmt.Errorf("pickle: old state: %w", err)
	}
	return r.decode(b, "old state", func(d *msgpack.Decoder) error { return d.Decode(v) })
}

// arrayOf reads an array header of exactly n items.
func arrayOf(d *msgpack.Decoder, n int, what string) error {
	got, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%w: %s has %d fields, want %d", ErrCorrupt, what, got, n)
	}
	return nil
}

// header reads the record tag and format version shared by every record.
func header(d *msgpack.Decoder, n int, tag string) error {
	if err := arrayOf(d, n, tag+" record"); err != nil {
		return err
	}
	got, err := d.DecodeString()
	if err != nil {
		return err
	}
	if got != tag {
		return fmt.Errorf("%w: a %q record where a %q record was expected", ErrCorrupt, got, tag)
	}
	v, err := d.DecodeUint64()
	if err != nil {
		return err
	}
	if v != FormatVersion {
		return fmt.Errorf("%w: record format version %d; this build reads version %d", ErrFormat, v, FormatVersion)
	}
	return nil
}

// listLen reads an array header, or nil as an empty array.
func listLen(d *msgpack.Decoder) (int, error) {
	n, err := d.DecodeArrayLen()
	if n < 0 {
		n = 0
	}
	return n, err
}
