package pickle

import (
	"encoding/binary"

	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/vmihailenco/msgpack/v5"
)

// This file exports single typed values and errors for package ipc, which
// sends them between nodes inside its own message frames. The format is the
// one records use: a value is nil or [type name, payload]; an error is nil
// or [sentinel name, message], with its typed self and causes when it has
// them (errors.go).
//
// nil, int, int64 and bool, the values most messages carry, take a short
// path that reads and writes the bytes directly: no pooled encoder or
// decoder, no allocation for the type name. The short path accepts only
// input the full path would decode to the same value, and hands anything
// else (including malformed bytes) to the full path.

// AppendValue appends v as a typed value to dst. Its Go type must be a
// built-in value type or registered with RegisterValue.
func (r *Registry) AppendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, 0xc0), nil
	case int:
		return mpack.AppendInt(append(dst, 0x92, 0xa3, 'i', 'n', 't'), int64(x)), nil
	case int64:
		return mpack.AppendInt(append(dst, 0x92, 0xa5, 'i', 'n', 't', '6', '4'), x), nil
	case bool:
		b := byte(0xc2)
		if x {
			b = 0xc3
		}
		return append(dst, 0x92, 0xa4, 'b', 'o', 'o', 'l', b), nil
	}
	return r.encode(dst, func(e *msgpack.Encoder) error { return r.encodeValue(e, v) })
}

// LoadValue decodes one typed value written by AppendValue. b is untrusted:
// it is size-checked and validated with ScanAll before decoding, and only
// registered types are decoded.
func (r *Registry) LoadValue(b []byte) (any, error) {
	if v, ok := loadScalar(b); ok {
		return v, nil
	}
	var v any
	err := r.decode(b, "value", func(d *msgpack.Decoder) error {
		var err error
		v, err = r.decodeValue(d)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// AppendError appends err to dst: a registered sentinel keeps its identity
// (errors.Is holds after LoadError), also wrapped; any other error keeps
// its message, and its type if registered (see RegisterError).
func (r *Registry) AppendError(dst []byte, err error) ([]byte, error) {
	if err == nil {
		return append(dst, 0xc0), nil
	}
	return r.encode(dst, func(e *msgpack.Encoder) error { return r.encodeError(e, err) })
}

// LoadError decodes an error written by AppendError, validated like
// LoadValue. A nil error decodes as nil.
func (r *Registry) LoadError(b []byte) (error, error) {
	if len(b) == 1 && b[0] == 0xc0 {
		return nil, nil
	}
	var out error
	err := r.decode(b, "error", func(d *msgpack.Decoder) error {
		var err error
		out, err = r.decodeError(d)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loadScalar decodes the values of the short path; ok is false for
// anything else.
func loadScalar(b []byte) (v any, ok bool) {
	if len(b) == 1 && b[0] == 0xc0 {
		return nil, true
	}
	if len(b) < 3 || b[0] != 0x92 || b[1]&0xe0 != 0xa0 {
		return nil, false
	}
	n := int(b[1] & 0x1f)
	if len(b) < 2+n {
		return nil, false
	}
	payload := b[2+n:]
	switch string(b[2 : 2+n]) {
	case "int":
		if x, ok := readScalarInt(payload); ok {
			return int(x), true
		}
	case "int64":
		if x, ok := readScalarInt(payload); ok {
			return x, true
		}
	case "bool":
		if len(payload) == 1 && (payload[0] == 0xc2 || payload[0] == 0xc3) {
			return payload[0] == 0xc3, true
		}
	}
	return nil, false
}

// readScalarInt reads a whole msgpack integer, as the decoder's DecodeInt64 does.
func readScalarInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	c, p := b[0], b[1:]
	if c <= 0x7f || c >= 0xe0 {
		return int64(int8(c)), len(p) == 0
	}
	switch {
	case (c == 0xcc || c == 0xd0) && len(p) == 1:
		if c == 0xcc {
			return int64(p[0]), true
		}
		return int64(int8(p[0])), true
	case (c == 0xcd || c == 0xd1) && len(p) == 2:
		u := binary.BigEndian.Uint16(p)
		if c == 0xcd {
			return int64(u), true
		}
		return int64(int16(u)), true
	case (c == 0xce || c == 0xd2) && len(p) == 4:
		u := binary.BigEndian.Uint32(p)
		if c == 0xce {
			return int64(u), true
		}
		return int64(int32(u)), true
	case (c == 0xcf || c == 0xd3) && len(p) == 8:
		return int64(binary.BigEndian.Uint64(p)), true
	}
	return 0, false
}
