package pickle

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Writing through a struct plan: msgpack v5.3.6's encodeStructValue with
// UseCompactInts, byte for byte.

func (sp *structPlan) append(dst []byte, p unsafe.Pointer) []byte {
	n := len(sp.fields)
	if sp.omit {
		n = sp.kept(p)
	}
	dst = appendMapLen(dst, n)
	for i := range sp.fields {
		f := &sp.fields[i]
		fp := unsafe.Add(p, f.off)
		if f.omit && f.c.empty(fp) {
			continue
		}
		dst = append(dst, f.key...)
		dst = f.c.append(dst, fp)
	}
	return dst
}

// kept counts the fields msgpack writes (omitempty ones only if not empty).
func (sp *structPlan) kept(p unsafe.Pointer) int {
	n := 0
	for i := range sp.fields {
		f := &sp.fields[i]
		if !f.omit || !f.c.empty(unsafe.Add(p, f.off)) {
			n++
		}
	}
	return n
}

// empty is msgpack's isEmptyValue.
func (c *codec) empty(p unsafe.Pointer) bool {
	switch c.kind {
	case pBool:
		return !*(*bool)(p)
	case pInt8, pUint8:
		return *(*uint8)(p) == 0
	case pInt16, pUint16:
		return *(*uint16)(p) == 0
	case pInt32, pUint32:
		return *(*uint32)(p) == 0
	case pInt64, pUint64:
		return *(*uint64)(p) == 0
	case pFloat32:
		return *(*float32)(p) == 0
	case pFloat64:
		return *(*float64)(p) == 0
	case pString:
		return len(*(*string)(p)) == 0
	case pBytes, pStrings, pSlice:
		return (*sliceHeader)(p).len == 0
	case pByteArray, pArray:
		return c.n == 0
	default: // pStruct
		return c.st.kept(p) == 0
	}
}

func (c *codec) append(dst []byte, p unsafe.Pointer) []byte {
	switch c.kind {
	case pBool:
		if *(*bool)(p) {
			return append(dst, 0xc3)
		}
		return append(dst, 0xc2)
	case pInt8:
		return appendInt(dst, int64(*(*int8)(p)))
	case pInt16:
		return appendInt(dst, int64(*(*int16)(p)))
	case pInt32:
		return appendInt(dst, int64(*(*int32)(p)))
	case pInt64:
		return appendInt(dst, *(*int64)(p))
	case pUint8:
		return appendUint(dst, uint64(*(*uint8)(p)))
	case pUint16:
		return appendUint(dst, uint64(*(*uint16)(p)))
	case pUint32:
		return appendUint(dst, uint64(*(*uint32)(p)))
	case pUint64:
		return appendUint(dst, *(*uint64)(p))
	case pFloat32:
		// msgpack goes through reflect.Value.Float and back, which quiets
		// a signalling NaN; so do we.
		f := float32(float64(*(*float32)(p)))
		return binary.BigEndian.AppendUint32(append(dst, 0xca), math.Float32bits(f))
	case pFloat64:
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(*(*float64)(p)))
	case pString:
		return appendStr(dst, *(*string)(p))
	case pBytes:
		s := *(*[]byte)(p)
		if s == nil {
			return append(dst, 0xc0)
		}
		return append(appendBinLen(dst, len(s)), s...)
	case pByteArray:
		return append(appendBinLen(dst, c.n), unsafe.Slice((*byte)(p), c.n)...)
	case pStrings, pSlice:
		h := (*sliceHeader)(p)
		if h.data == nil {
			return append(dst, 0xc0)
		}
		return c.appendElems(dst, h.data, h.len)
	case pArray:
		return c.appendElems(dst, p, c.n)
	default: // pStruct
		return c.st.append(dst, p)
	}
}

func (c *codec) appendElems(dst []byte, p unsafe.Pointer, n int) []byte {
	dst = appendArrayLen(dst, n)
	for i := range n {
		dst = c.elem.append(dst, unsafe.Add(p, uintptr(i)*c.elem.size))
	}
	return dst
}

// appendUint is msgpack's EncodeUint: the shortest form.
func appendUint(dst []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(dst, byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), n)
}

// appendInt is msgpack's EncodeInt: the shortest form, unsigned if n >= 0.
func appendInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(dst, uint64(n))
	case n >= -32:
		return append(dst, byte(n))
	case n >= math.MinInt8:
		return append(dst, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(n))
}

func appendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendBinLen(dst []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
}

func appendArrayLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

func appendMapLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}
