package pickle

import (
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"

	"github.com/stackless-go/stackless/internal/mpack"
)

// Writing through a struct plan: msgpack v5.3.6's encodeStructValue with
// UseCompactInts, byte for byte.

func (sp *structPlan) append(dst []byte, p unsafe.Pointer) []byte {
	dead := sp.deadFields(p)
	n := len(sp.fields)
	if sp.omit || dead != 0 {
		n = sp.keptBut(p, dead)
	}
	dst = mpack.AppendMapLen(dst, n)
	for i := range sp.fields {
		f := &sp.fields[i]
		fp := unsafe.Add(p, f.off)
		if f.omit && f.c.empty(fp) || i < 64 && dead&(1<<i) != 0 {
			continue
		}
		dst = append(dst, f.key...)
		dst = f.c.append(dst, fp)
	}
	return dst
}

// deadFields is the value's DeadFields, if the plan honours them.
func (sp *structPlan) deadFields(p unsafe.Pointer) uint64 {
	if !sp.dead {
		return 0
	}
	return reflect.NewAt(sp.typ, p).Interface().(DeadFielder).DeadFields()
}

// kept counts the fields a save writes: msgpack's (omitempty ones only if
// not empty) less the dead ones.
func (sp *structPlan) kept(p unsafe.Pointer) int { return sp.keptBut(p, sp.deadFields(p)) }

func (sp *structPlan) keptBut(p unsafe.Pointer, dead uint64) int {
	n := 0
	for i := range sp.fields {
		f := &sp.fields[i]
		if (!f.omit || !f.c.empty(unsafe.Add(p, f.off))) && (i >= 64 || dead&(1<<i) == 0) {
			n++
		}
	}
	return n
}

// empty is msgpack's isEmptyValue.
func (c *codec) empty(p unsafe.Pointer) bool {
	if c.zero { // through a pointer: boxing it does not allocate
		return reflect.NewAt(c.typ, p).Interface().(isZeroer).IsZero()
	}
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
		return mpack.AppendInt(dst, int64(*(*int8)(p)))
	case pInt16:
		return mpack.AppendInt(dst, int64(*(*int16)(p)))
	case pInt32:
		return mpack.AppendInt(dst, int64(*(*int32)(p)))
	case pInt64:
		return mpack.AppendInt(dst, *(*int64)(p))
	case pUint8:
		return mpack.AppendUint(dst, uint64(*(*uint8)(p)))
	case pUint16:
		return mpack.AppendUint(dst, uint64(*(*uint16)(p)))
	case pUint32:
		return mpack.AppendUint(dst, uint64(*(*uint32)(p)))
	case pUint64:
		return mpack.AppendUint(dst, *(*uint64)(p))
	case pFloat32:
		// msgpack goes through reflect.Value.Float and back, which quiets
		// a signalling NaN; so do we.
		f := float32(float64(*(*float32)(p)))
		return binary.BigEndian.AppendUint32(append(dst, 0xca), math.Float32bits(f))
	case pFloat64:
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(*(*float64)(p)))
	case pString:
		return mpack.AppendStr(dst, *(*string)(p))
	case pBytes:
		s := *(*[]byte)(p)
		if s == nil {
			return append(dst, 0xc0)
		}
		return append(mpack.AppendBinLen(dst, len(s)), s...)
	case pByteArray:
		return append(mpack.AppendBinLen(dst, c.n), unsafe.Slice((*byte)(p), c.n)...)
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
	dst = mpack.AppendArrayLen(dst, n)
	for i := range n {
		dst = c.elem.append(dst, unsafe.Add(p, uintptr(i)*c.elem.size))
	}
	return dst
}
