package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// builtinValues are the value types every registry knows, by wire name.
var builtinValues = map[string]any{
	"bool": false, "int": int(0), "int8": int8(0), "int16": int16(0), "int32": int32(0), "int64": int64(0),
	"uint": uint(0), "uint8": uint8(0), "uint16": uint16(0), "uint32": uint32(0), "uint64": uint64(0),
	"float32": float32(0), "float64": float64(0), "string": "", "bytes": []byte(nil),
	"[]int": []int(nil), "[]int64": []int64(nil), "[]float64": []float64(nil), "[]string": []string(nil),
	"map[string]int": map[string]int(nil), "map[string]string": map[string]string(nil),
	"duration": time.Duration(0), "time": time.Time{},
	"tasklet.ID": tasklet.ID(0), "channel.ID": tasklet.ChanID(0),
}

// builtinErrors are the sentinels every registry knows, by wire name: the
// runtime's own, and the standard library's that programs test for with
// errors.Is (a file that is not there, an ended stream, a deadline).
var builtinErrors = map[string]error{
	"killed":    tasklet.ErrKilled,
	"closed":    channel.ErrClosed,
	"blocktrap": tasklet.ErrBlockTrap,

	"io.EOF":                   io.EOF,
	"io.ErrUnexpectedEOF":      io.ErrUnexpectedEOF,
	"fs.ErrNotExist":           fs.ErrNotExist,
	"fs.ErrExist":              fs.ErrExist,
	"fs.ErrPermission":         fs.ErrPermission,
	"fs.ErrClosed":             fs.ErrClosed,
	"fs.ErrInvalid":            fs.ErrInvalid,
	"context.Canceled":         context.Canceled,
	"context.DeadlineExceeded": context.DeadlineExceeded,
	"os.ErrDeadlineExceeded":   os.ErrDeadlineExceeded,
	"errors.ErrUnsupported":    errors.ErrUnsupported,
}

const bombName = "!error"

// encodeValue writes a value with its type name: nil, or [name, payload].
func (r *Registry) encodeValue(e *msgpack.Encoder, v any) error {
	if v == nil {
		return e.EncodeNil()
	}
	if err := e.EncodeArrayLen(2); err != nil {
		return err
	}
	switch x := v.(type) { // fast paths for the common scalars
	case int:
		e.EncodeString("int")
		return e.EncodeInt(int64(x))
	case int64:
		e.EncodeString("int64")
		return e.EncodeInt(x)
	case string:
		e.EncodeString("string")
		return e.EncodeString(x)
	case float64:
		e.EncodeString("float64")
		return e.EncodeFloat64(x)
	case bool:
		e.EncodeString("bool")
		return e.EncodeBool(x)
	case channel.Bomb:
		e.EncodeString(bombName)
		return r.encodeError(e, x.Err)
	}
	t := reflect.TypeOf(v)
	r.mu.RLock()
	vt, ok := r.valueName[t]
	r.mu.RUnlock()
	if !ok {
		return unregisteredValue(t)
	}
	if err := checkRefs(v, vt.info); err != nil { // refcheck.go
		return fmt.Errorf("pickle: value of Go type %v: %w", t, err)
	}
	e.EncodeString(vt.name)
	w, ok := e.Writer().(*appendWriter)
	if !ok || !vt.info.amp {
		return e.Encode(v)
	}
	start := len(w.b)
	if err := e.Encode(v); err != nil {
		return err
	}
	if err := checkWritten(w.b[start:], t); err != nil { // the load's own check (cost.go)
		return fmt.Errorf("pickle: value of Go type %v: %w", t, err)
	}
	return nil
}

func unregisteredValue(t reflect.Type) error {
	return fmt.Errorf("pickle: value of Go type %v: %w; call pickle.RegisterValue[%s](reg, \"name\") at init", t, ErrUnregistered, typeBase(t))
}

// CheckValue reports whether v can be saved and sent to other nodes: nil,
// a built-in value type, an error sent with SendErr (any error: it keeps
// its message, and its registered sentinels and types: see RegisterError), or a
// type registered with RegisterValue. Otherwise its error wraps
// ErrUnregistered and names the Go type and the call that registers it.
// A registered value that reaches one value twice through pointers, or
// cycles, is refused with ErrShared, and one nested deeper than MaxNest
// with ErrTooDeep: a save could not bring it back as it was.
//
// Pass it to scheduler.WithValueCheck (store.Checkpointer.Resume and
// ipc.NewNode do) and a send of an unregistered value fails at the send
// instead of at the next checkpoint. Safe for concurrent use.
func (r *Registry) CheckValue(v any) error {
	if _, ok := v.(int); ok { // the commonest value, before the switch's search
		return nil
	}
	switch v.(type) { // the common scalars, without the lock
	case nil, int, int64, string, float64, bool, channel.Bomb:
		return nil
	}
	t := reflect.TypeOf(v)
	r.mu.RLock()
	vt, ok := r.valueName[t]
	r.mu.RUnlock()
	if !ok {
		return unregisteredValue(t)
	}
	if err := checkRefs(v, vt.info); err != nil { // refcheck.go
		return fmt.Errorf("pickle: value of Go type %v: %w", t, err)
	}
	return nil
}

// named reads the head that typed values and errors share: nil, or a
// two-element array whose first element is a name.
func named(d *msgpack.Decoder, rule string) (name string, isNil bool, err error) {
	code, err := d.PeekCode()
	if err != nil {
		return "", false, err
	}
	if code == 0xc0 {
		return "", true, d.DecodeNil()
	}
	if n, err := d.DecodeArrayLen(); err != nil || n != 2 {
		return "", false, fmt.Errorf("%w: %s", ErrCorrupt, rule)
	}
	name, err = d.DecodeString()
	return name, false, err
}

func (r *Registry) decodeValue(d *msgpack.Decoder) (any, error) {
	name, isNil, err := named(d, "a value must be [type, payload]")
	if isNil || err != nil {
		return nil, err
	}
	return r.decodeNamed(d, name)
}

// decodeNamed decodes the payload of a value whose type name was read.
func (r *Registry) decodeNamed(d *msgpack.Decoder, name string) (any, error) {
	switch name {
	case "int":
		x, err := d.DecodeInt64()
		return int(x), err
	case "int64":
		return d.DecodeInt64()
	case "string":
		return d.DecodeString()
	case "float64":
		return d.DecodeFloat64()
	case "bool":
		return d.DecodeBool()
	case bombName:
		e, err := r.decodeError(d)
		if err == nil && e == nil {
			err = fmt.Errorf("%w: a sent error without an error", ErrCorrupt)
		}
		return channel.Bomb{Err: e}, err
	}
	r.mu.RLock()
	t, ok := r.values[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("pickle: value type %q: %w in this program; register it with pickle.RegisterValue, or read the data with the program that wrote it", name, ErrUnregistered)
	}
	if rd, ok := d.Buffered().(*bytes.Reader); ok {
		if err := checkCost(unread(rd), t); err != nil {
			return nil, fmt.Errorf("pickle: value of type %q: %w", name, err)
		}
	}
	p := reflect.New(t)
	if err := d.Decode(p.Interface()); err != nil {
		return nil, fmt.Errorf("pickle: value of type %q: %w", name, err)
	}
	return p.Elem().Interface(), nil
}
