package ipc

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/stackless-go/stackless/pickle"
)

// Message envelopes are written and read here by hand: the fields are a
// handful of integers, so appending them directly is faster than a msgpack
// Encoder and never allocates. Values and errors go through the pickle
// registry's typed encoding.

// appendOptStr writes "" as nil, so an absent error text costs one byte.
func appendOptStr(b []byte, s string) []byte {
	if s == "" {
		return mpack.AppendNil(b)
	}
	return mpack.AppendStr(b, s)
}

// appendBin writes nil bytes as nil, so an absent payload costs one byte.
func appendBin(b []byte, p []byte) []byte {
	if p == nil {
		return mpack.AppendNil(b)
	}
	return mpack.AppendBin(b, p)
}

// cursor reads a message envelope from a frame body that pickle.ScanAll
// has validated, so every declared length fits in the body; the checks
// here are for types and ranges. The first error sticks.
type cursor struct {
	b   []byte
	off int
	err error
}

// The readers below keep their common case small enough to inline; the
// error paths are out of line.

func (c *cursor) fail(what string) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: expected %s at offset %d", ErrBadFrame, what, c.off)
	}
}

//go:noinline
func (c *cursor) short(n int) { c.fail(fmt.Sprintf("%d more bytes", n)) }

func (c *cursor) peek() (byte, bool) {
	if c.off < len(c.b) {
		return c.b[c.off], true
	}
	c.short(1)
	return 0, false
}

func (c *cursor) take(n int) []byte {
	if n >= 0 && len(c.b)-c.off >= n {
		c.off += n
		return c.b[c.off-n : c.off]
	}
	c.short(n)
	return nil
}

func (c *cursor) uint() uint64 {
	if c.off < len(c.b) && c.b[c.off] <= 0x7f {
		c.off++
		return uint64(c.b[c.off-1])
	}
	return c.uintLong()
}

func (c *cursor) uintLong() uint64 {
	b, ok := c.peek()
	if !ok {
		return 0
	}
	switch b {
	case 0xcc:
		c.off++
		if p := c.take(1); p != nil {
			return uint64(p[0])
		}
	case 0xcd:
		c.off++
		if p := c.take(2); p != nil {
			return uint64(binary.BigEndian.Uint16(p))
		}
	case 0xce:
		c.off++
		if p := c.take(4); p != nil {
			return uint64(binary.BigEndian.Uint32(p))
		}
	case 0xcf:
		c.off++
		if p := c.take(8); p != nil {
			return binary.BigEndian.Uint64(p)
		}
	default:
		c.fail("an unsigned integer")
	}
	return 0
}

// uintMax reads an unsigned integer of at most max.
func (c *cursor) uintMax(max uint64, what string) uint64 {
	v := c.uint()
	if c.err == nil && v > max {
		c.err = fmt.Errorf("%w: %s %d is out of range (at most %d)", ErrBadFrame, what, v, max)
	}
	return v
}

func (c *cursor) int() int64 {
	b, ok := c.peek()
	if !ok {
		return 0
	}
	switch {
	case b >= 0xe0:
		c.off++
		return int64(int8(b))
	case b == 0xd0:
		c.off++
		if p := c.take(1); p != nil {
			return int64(int8(p[0]))
		}
	case b == 0xd1:
		c.off++
		if p := c.take(2); p != nil {
			return int64(int16(binary.BigEndian.Uint16(p)))
		}
	case b == 0xd2:
		c.off++
		if p := c.take(4); p != nil {
			return int64(int32(binary.BigEndian.Uint32(p)))
		}
	case b == 0xd3:
		c.off++
		if p := c.take(8); p != nil {
			return int64(binary.BigEndian.Uint64(p))
		}
	default:
		u := c.uint()
		if u > math.MaxInt64 {
			c.fail("a signed integer")
		}
		return int64(u)
	}
	return 0
}

func (c *cursor) bool() bool {
	b, ok := c.peek()
	if ok && (b == 0xc2 || b == 0xc3) {
		c.off++
		return b == 0xc3
	}
	c.fail("a bool")
	return false
}

// nil consumes a nil and reports whether there was one.
func (c *cursor) nil() bool {
	if b, ok := c.peek(); ok && b == 0xc0 {
		c.off++
		return true
	}
	return false
}

// str returns a string's bytes without copying (nil stays "").
func (c *cursor) str() []byte {
	if c.nil() {
		return nil
	}
	b, ok := c.peek()
	if !ok {
		return nil
	}
	c.off++
	switch {
	case b >= 0xa0 && b <= 0xbf:
		return c.take(int(b & 0x1f))
	case b == 0xd9:
		if p := c.take(1); p != nil {
			return c.take(int(p[0]))
		}
	case b == 0xda:
		if p := c.take(2); p != nil {
			return c.take(int(binary.BigEndian.Uint16(p)))
		}
	case b == 0xdb:
		if p := c.take(4); p != nil {
			return c.take(int(binary.BigEndian.Uint32(p)))
		}
	default:
		c.off--
		c.fail("a string")
	}
	return nil
}

// bin returns a copy of a byte string (nil stays nil): the frame buffer is
// reused after decoding.
func (c *cursor) bin() []byte {
	if c.nil() {
		return nil
	}
	b, ok := c.peek()
	if !ok {
		return nil
	}
	c.off++
	var n int
	switch b {
	case 0xc4:
		if p := c.take(1); p != nil {
			n = int(p[0])
		}
	case 0xc5:
		if p := c.take(2); p != nil {
			n = int(binary.BigEndian.Uint16(p))
		}
	case 0xc6:
		if p := c.take(4); p != nil {
			n = int(binary.BigEndian.Uint32(p))
		}
	default:
		c.off--
		c.fail("a byte string")
		return nil
	}
	p := c.take(n)
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, n), p...)
}

func (c *cursor) array() int {
	if c.off < len(c.b) && c.b[c.off]&0xf0 == 0x90 {
		c.off++
		return int(c.b[c.off-1] & 0x0f)
	}
	b, ok := c.peek()
	if !ok {
		return 0
	}
	c.off++
	switch {
	case b >= 0x90 && b <= 0x9f:
		return int(b & 0x0f)
	case b == 0xdc:
		if p := c.take(2); p != nil {
			return int(binary.BigEndian.Uint16(p))
		}
	case b == 0xdd:
		if p := c.take(4); p != nil {
			return int(binary.BigEndian.Uint32(p))
		}
	default:
		c.off--
		c.fail("an array")
	}
	return 0
}

// raw returns the bytes of the next whole msgpack value (a typed value, an
// error, a tasklet record) for the pickle loaders.
func (c *cursor) raw() []byte {
	if c.off < len(c.b) && c.b[c.off] == 0xc0 { // nil: most errors, many values
		c.off++
		return c.b[c.off-1 : c.off]
	}
	if c.err != nil {
		return nil
	}
	if n := scalarLen(c.b[c.off:]); n > 0 {
		return c.take(n)
	}
	n, err := pickle.Scan(c.b[c.off:], pickle.Limits{})
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrBadFrame, err)
		return nil
	}
	return c.take(n)
}

// scalarLen is the length of a typed value [fixstr name, scalar] at the
// start of b, the shape of most values, found without a full Scan; 0 for
// any other shape.
func scalarLen(b []byte) int {
	if len(b) < 3 || b[0] != 0x92 || b[1]&0xe0 != 0xa0 {
		return 0
	}
	p := 2 + int(b[1]&0x1f)
	if p >= len(b) {
		return 0
	}
	switch c := b[p]; {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return p + 1
	case c == 0xcc || c == 0xd0:
		return p + 2
	case c == 0xcd || c == 0xd1:
		return p + 3
	case c == 0xce || c == 0xd2 || c == 0xca:
		return p + 5
	case c == 0xcf || c == 0xd3 || c == 0xcb:
		return p + 9
	case c >= 0xa0 && c <= 0xbf:
		return p + 1 + int(c&0x1f)
	}
	return 0
}
