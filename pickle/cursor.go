package pickle

import (
	"encoding/binary"
	"fmt"
)

// cursor reads the fixed envelope of a record straight from bytes that Scan
// has validated, without allocating; values and behaviors go to msgpack.
type cursor struct {
	b   []byte
	off int
	err error

	// limit, when not zero, bounds what a struct plan may allocate while
	// reading (cost counts it the way checkCost does), so a plan can read
	// a record no cost walk has checked: over the limit, it fails.
	limit, cost int
}

// spend counts n bytes a plan is about to allocate; false (and a failed
// cursor) when that would go over the limit.
func (c *cursor) spend(n int) bool {
	if c.limit == 0 {
		return true
	}
	if c.cost += n; c.cost > c.limit || n < 0 {
		c.fail(fmt.Sprintf("at most %d bytes of allocation", c.limit))
		return false
	}
	return true
}

func (c *cursor) fail(what string) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: expected %s at offset %d", ErrCorrupt, what, c.off)
	}
}

func (c *cursor) next() (byte, bool) {
	if c.err != nil || c.off >= len(c.b) {
		c.fail("more bytes")
		return 0, false
	}
	c.off++
	return c.b[c.off-1], true
}

func (c *cursor) take(n int) []byte {
	if c.err != nil || n < 0 || len(c.b)-c.off < n {
		c.fail(fmt.Sprintf("%d bytes", n))
		return nil
	}
	c.off += n
	return c.b[c.off-n : c.off]
}

func (c *cursor) uint() uint64 {
	b, ok := c.next()
	switch {
	case !ok:
		return 0
	case b <= 0x7f:
		return uint64(b)
	case b == 0xcc:
		if p := c.take(1); p != nil {
			return uint64(p[0])
		}
	case b == 0xcd:
		if p := c.take(2); p != nil {
			return uint64(binary.BigEndian.Uint16(p))
		}
	case b == 0xce:
		if p := c.take(4); p != nil {
			return uint64(binary.BigEndian.Uint32(p))
		}
	case b == 0xcf:
		if p := c.take(8); p != nil {
			return binary.BigEndian.Uint64(p)
		}
	default:
		c.off--
		c.fail("an unsigned integer")
	}
	return 0
}

func (c *cursor) int() int64 {
	if c.err != nil || c.off >= len(c.b) {
		c.fail("an integer")
		return 0
	}
	b := c.b[c.off]
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
		if u > 1<<63-1 {
			c.fail("an int64")
		}
		return int64(u)
	}
	return 0
}

func (c *cursor) bool() bool {
	b, ok := c.next()
	if ok && (b == 0xc2 || b == 0xc3) {
		return b == 0xc3
	}
	c.fail("a bool")
	return false
}

// str returns a string's bytes without copying.
func (c *cursor) str() []byte {
	b, ok := c.next()
	switch {
	case !ok:
		return nil
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
	}
	c.fail("a string")
	return nil
}

func (c *cursor) arrayLen() int {
	b, ok := c.next()
	switch {
	case !ok:
		return 0
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
	}
	c.fail("an array")
	return 0
}

// envelope reads [tag, format, ...] of a record of n fields.
func (c *cursor) envelope(n int, tag string) error {
	if got := c.arrayLen(); c.err == nil && got != n {
		return fmt.Errorf("%w: %s record has %d fields, want %d", ErrCorrupt, tag, got, n)
	}
	if got := c.str(); c.err == nil && string(got) != tag {
		return fmt.Errorf("%w: a %q record where a %q record was expected", ErrCorrupt, got, tag)
	}
	if v := c.uint(); c.err == nil && v != FormatVersion {
		return fmt.Errorf("%w: record format version %d; this build reads version %d", ErrFormat, v, FormatVersion)
	}
	return c.err
}
