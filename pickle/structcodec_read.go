package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Reading through a struct plan: msgpack v5.3.6's decodeStructValue and the
// decoders of its fields, with their leniency, on a cursor over bytes that
// Scan has validated (Scan bounds every length, so slices are allocated at
// their exact length up front).

// decode reads one value into the struct at p, in place, as msgpack's
// decodeStructValue does: nil zeroes it, a map sets the fields it names, an
// array of exactly one item per field sets them in order.
func (sp *structPlan) decode(c *cursor, p unsafe.Pointer) {
	b, ok := c.peek()
	switch {
	case !ok:
	case b == 0xc0:
		c.off++
		sp.zero(p)
	case b >= 0x80 && b <= 0x8f || b == 0xde || b == 0xdf:
		n := c.mpMapLen()
		for i := 0; i < n && c.err == nil; i++ {
			key := c.mpKey()
			if c.err != nil {
				return
			}
			var f *planField
			if i < len(sp.fields) && string(key) == sp.fields[i].name {
				f = &sp.fields[i] // keys usually come in msgpack's order
			} else {
				f = sp.byName[string(key)]
			}
			if f == nil {
				c.mpSkip()
				continue
			}
			f.c.decode(c, unsafe.Add(p, f.off))
		}
	case b >= 0x90 && b <= 0x9f || b == 0xdc || b == 0xdd:
		n := c.mpArrayLen()
		if n == 0 {
			sp.zero(p)
			return
		}
		if n != len(sp.fields) {
			c.fail(fmt.Sprintf("a struct as an array of %d items, not %d", len(sp.fields), n))
			return
		}
		for i := 0; i < n && c.err == nil; i++ {
			f := &sp.fields[i]
			f.c.decode(c, unsafe.Add(p, f.off))
		}
	default:
		c.fail("a map")
	}
}

func (c *codec) decode(cu *cursor, p unsafe.Pointer) {
	switch c.kind {
	case pBool:
		*(*bool)(p) = cu.mpBool()
	case pInt8, pUint8: // SetInt and SetUint keep the low bits
		*(*uint8)(p) = uint8(cu.mpInt())
	case pInt16, pUint16:
		*(*uint16)(p) = uint16(cu.mpInt())
	case pInt32, pUint32:
		*(*uint32)(p) = uint32(cu.mpInt())
	case pInt64, pUint64:
		*(*uint64)(p) = uint64(cu.mpInt())
	case pFloat32:
		*(*float32)(p) = cu.mpFloat32()
	case pFloat64:
		*(*float64)(p) = cu.mpFloat64()
	case pString:
		s, isNil := cu.mpBytes()
		if !isNil && !cu.spend(len(s)+anyArray) {
			return
		}
		if len(s) > 0 {
			*(*string)(p) = string(s)
		} else {
			*(*string)(p) = ""
		}
	case pBytes:
		s, isNil := cu.mpBytes()
		if !isNil && !cu.spend(len(s)+anyArray) {
			return
		}
		if cu.err == nil {
			*(*[]byte)(p) = cloneBytes(s, isNil)
		}
	case pByteArray:
		s, isNil := cu.mpBytes()
		if isNil || cu.err != nil {
			return // nil leaves an array as it was
		}
		if len(s) > c.n {
			cu.fail(fmt.Sprintf("at most %d bytes for %v", c.n, c.typ))
			return
		}
		copy(unsafe.Slice((*byte)(p), c.n), s)
	case pStrings:
		c.decodeStrings(cu, p)
	case pSlice:
		c.decodeSlice(cu, p)
	case pArray:
		n := cu.mpArrayLen()
		if n < 0 || cu.err != nil {
			return // nil leaves an array as it was
		}
		if n > c.n {
			cu.fail(fmt.Sprintf("at most %d items for %v", c.n, c.typ))
			return
		}
		c.decodeElems(cu, p, n)
	default: // pStruct
		c.st.decode(cu, p)
	}
}

func cloneBytes(s []byte, isNil bool) []byte {
	if isNil {
		return nil
	}
	if len(s) == 0 {
		return []byte{}
	}
	return bytes.Clone(s)
}

func (c *codec) decodeElems(cu *cursor, p unsafe.Pointer, n int) {
	e := c.elem
	for i := 0; i < n && cu.err == nil; i++ {
		e.decode(cu, unsafe.Add(p, uintptr(i)*e.size))
	}
}

// decodeStrings is msgpack's decodeStringSlicePtr: nil keeps the slice.
func (c *codec) decodeStrings(cu *cursor, p unsafe.Pointer) {
	n := cu.mpArrayLen()
	if n < 0 || cu.err != nil || !cu.spend(n*int(unsafe.Sizeof(""))) {
		return
	}
	ss := make([]string, n)
	for i := 0; i < n && cu.err == nil; i++ {
		s, isNil := cu.mpBytes()
		if !isNil && !cu.spend(len(s)+anyArray) {
			return
		}
		if len(s) > 0 {
			ss[i] = string(s)
		}
	}
	if cu.err == nil {
		*(*[]string)(p) = ss
	}
}

// decodeSlice is msgpack's decodeSliceValue: nil clears the slice, an array
// of n items reuses the old backing array when it has room (elements are
// decoded over the old ones), else grows a copy of it; the new one has
// exactly n elements, Scan having bounded n by the bytes left.
func (c *codec) decodeSlice(cu *cursor, p unsafe.Pointer) {
	n := cu.mpArrayLen()
	if cu.err != nil || (n > 0 && !cu.spend(n*int(c.elem.size))) {
		return
	}
	h := (*sliceHeader)(p)
	switch {
	case n < 0:
		*h = sliceHeader{}
		return
	case h.cap >= n && h.data != nil:
		h.len = n
	default:
		data := c.makeSlice(n)
		if h.cap > 0 { // only with a repeated key
			old := reflect.NewAt(c.typ, p).Elem()
			reflect.Copy(reflect.NewAt(c.typ, unsafe.Pointer(&sliceHeader{data, n, n})).Elem(), old.Slice(0, old.Cap()))
		}
		*h = sliceHeader{data, n, n}
	}
	c.decodeElems(cu, h.data, n)
}

// makeSlice allocates the backing array of n elements; never nil, so an
// empty array stays an empty slice, not nil.
func (c *codec) makeSlice(n int) unsafe.Pointer {
	// Scalars share their layout (and their lack of pointers) with the
	// unnamed type of their size.
	switch c.elem.kind {
	case pBool:
		return unsafe.Pointer(unsafe.SliceData(make([]bool, n)))
	case pInt8, pUint8:
		return unsafe.Pointer(unsafe.SliceData(make([]uint8, n)))
	case pInt16, pUint16:
		return unsafe.Pointer(unsafe.SliceData(make([]uint16, n)))
	case pInt32, pUint32, pFloat32:
		return unsafe.Pointer(unsafe.SliceData(make([]uint32, n)))
	case pInt64, pUint64, pFloat64:
		return unsafe.Pointer(unsafe.SliceData(make([]uint64, n)))
	case pString:
		return unsafe.Pointer(unsafe.SliceData(make([]string, n)))
	}
	return reflect.MakeSlice(c.typ, n, n).UnsafePointer()
}

// ---- the msgpack decoder's leniency, on a cursor ----

func (c *cursor) peek() (byte, bool) { // the next byte, not consumed
	if c.err != nil || c.off >= len(c.b) {
		c.fail("more bytes")
		return 0, false
	}
	return c.b[c.off], true
}

// mpInt reads what msgpack's DecodeInt64 accepts: nil (0) or any integer.
// Unsigned fields use the same bits, as msgpack's DecodeUint64 does. A
// fixint, the usual case, takes no further call.
func (c *cursor) mpInt() int64 {
	if c.err == nil && c.off < len(c.b) {
		if b := c.b[c.off]; b <= 0x7f || b >= 0xe0 {
			c.off++
			return int64(int8(b))
		}
	}
	return c.mpIntSlow()
}

func (c *cursor) mpIntSlow() int64 {
	b, ok := c.next()
	switch {
	case !ok:
	case b <= 0x7f || b >= 0xe0:
		return int64(int8(b))
	case b == 0xc0:
		return 0
	case b >= 0xcc && b <= 0xd3:
		p := c.take(1 << ((b - 0xcc) & 3))
		if p == nil {
			return 0
		}
		switch b {
		case 0xcc:
			return int64(p[0])
		case 0xcd:
			return int64(binary.BigEndian.Uint16(p))
		case 0xce:
			return int64(binary.BigEndian.Uint32(p))
		case 0xd0:
			return int64(int8(p[0]))
		case 0xd1:
			return int64(int16(binary.BigEndian.Uint16(p)))
		case 0xd2:
			return int64(int32(binary.BigEndian.Uint32(p)))
		}
		return int64(binary.BigEndian.Uint64(p))
	default:
		c.off--
		c.fail("an integer")
	}
	return 0
}

// mpFloat32 reads a float32, nil or any integer; a float64 is an error.
func (c *cursor) mpFloat32() float32 {
	if c.err == nil && c.off+5 <= len(c.b) && c.b[c.off] == 0xca {
		f := math.Float32frombits(binary.BigEndian.Uint32(c.b[c.off+1:]))
		c.off += 5
		// msgpack stores through reflect.Value.SetFloat(float64(f)), which
		// quiets a signalling NaN.
		return float32(float64(f))
	}
	return float32(c.mpInt())
}

// mpFloat64 reads a float64, a float32, nil or any integer.
func (c *cursor) mpFloat64() float64 {
	if c.err == nil && c.off+9 <= len(c.b) && c.b[c.off] == 0xcb {
		f := math.Float64frombits(binary.BigEndian.Uint64(c.b[c.off+1:]))
		c.off += 9
		return f
	}
	if c.err == nil && c.off+5 <= len(c.b) && c.b[c.off] == 0xca {
		f := math.Float32frombits(binary.BigEndian.Uint32(c.b[c.off+1:]))
		c.off += 5
		return float64(f)
	}
	return float64(c.mpInt())
}

// mpKey reads a map key as msgpack's decodeStringTemp does (str, bin or
// nil), without copying; fixstr, the usual case, inline.
func (c *cursor) mpKey() []byte {
	if c.err == nil && c.off < len(c.b) {
		if b := c.b[c.off]; b&0xe0 == 0xa0 {
			if end := c.off + 1 + int(b&0x1f); end <= len(c.b) {
				k := c.b[c.off+1 : end]
				c.off = end
				return k
			}
		}
	}
	k, _ := c.mpBytes()
	return k
}

// mpBool reads true, false or nil (false).
func (c *cursor) mpBool() bool {
	b, ok := c.next()
	if ok && (b == 0xc0 || b == 0xc2 || b == 0xc3) {
		return b == 0xc3
	}
	if ok {
		c.off--
	}
	c.fail("a bool")
	return false
}

// mpBytes reads a str or a bin without copying; nil gives isNil.
func (c *cursor) mpBytes() (s []byte, isNil bool) {
	b, ok := c.next()
	switch {
	case !ok:
		return nil, false
	case b == 0xc0:
		return nil, true
	case b >= 0xa0 && b <= 0xbf:
		return c.take(int(b & 0x1f)), false
	case b == 0xd9 || b == 0xc4:
		if p := c.take(1); p != nil {
			return c.take(int(p[0])), false
		}
		return nil, false
	case b == 0xda || b == 0xc5:
		if p := c.take(2); p != nil {
			return c.take(int(binary.BigEndian.Uint16(p))), false
		}
		return nil, false
	case b == 0xdb || b == 0xc6:
		if p := c.take(4); p != nil {
			return c.take(int(binary.BigEndian.Uint32(p))), false
		}
		return nil, false
	}
	c.off--
	c.fail("a string")
	return nil, false
}

// mpArrayLen reads an array header; nil is -1.
func (c *cursor) mpArrayLen() int {
	if b, ok := c.peek(); ok && b == 0xc0 {
		c.off++
		return -1
	}
	return c.arrayLen()
}

// mpMapLen reads a map header (the caller has seen one).
func (c *cursor) mpMapLen() int {
	b, ok := c.next()
	switch {
	case !ok:
	case b >= 0x80 && b <= 0x8f:
		return int(b & 0x0f)
	case b == 0xde:
		if p := c.take(2); p != nil {
			return int(binary.BigEndian.Uint16(p))
		}
	case b == 0xdf:
		if p := c.take(4); p != nil {
			return int(binary.BigEndian.Uint32(p))
		}
	default:
		c.off--
		c.fail("a map")
	}
	return 0
}

// mpSkip steps over one value of any type, as msgpack skips unknown keys.
func (c *cursor) mpSkip() {
	if c.err != nil {
		return
	}
	n, err := Scan(c.b[c.off:], Limits{})
	if err != nil {
		c.err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		return
	}
	c.off += n
}
