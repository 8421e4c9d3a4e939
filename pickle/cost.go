package pickle

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Decoding can allocate far more than a record's size even when every
// length in it is honest: each one-byte nil in an array becomes a whole
// element of the Go slice it decodes into (a 100 KB record of nils in a
// []struct of 440 bytes allocated 44 MB). allocCost walks the validated
// bytes alongside the Go type they will decode into and adds up what
// decoding allocates, so such a record is refused before msgpack sees it.

// maxAmplification bounds what decoding may allocate: this many times the
// record's size, plus costSlack.
const (
	maxAmplification = 64
	costSlack        = 1 << 20
	// What msgpack allocates for values decoded into interface{} (measured
	// with Go 1.26 and msgpack v5.3.6): the slot in a []any or map, a boxed
	// scalar, and the headers of a []any and a map[string]any.
	anySlot   = 16
	anyScalar = 8
	anyArray  = 24
	anyMap    = 64
)

// checkWritten is checkCost on bytes a save wrote, with what to do. A save
// of a value that could decode past the bound (typeInfo.amp: shapeOf says
// which types can) runs it, as every load will, so that a state no load
// would take (30,000 empty slots of an inventory grid) is refused where it
// is saved.
func checkWritten(b []byte, t reflect.Type) error {
	if err := checkCost(b, t); err != nil {
		return fmt.Errorf("%w; every load would refuse it, so it is not saved: keep a mostly empty collection sparse (a map of the filled slots, or a slice of them with their indexes), or take omitempty off the fields of its elements", err)
	}
	return nil
}

// checkCost refuses b if decoding it into a value of type t would allocate
// more than the bound.
func checkCost(b []byte, t reflect.Type) error {
	limit := maxAmplification*len(b) + costSlack
	c := coster{b: b, limit: limit}
	c.value(t)
	if c.err != nil {
		return c.err
	}
	if c.cost > limit {
		return fmt.Errorf("%w: decoding %d bytes into %v would allocate at least %d bytes, over %dx the record's size",
			ErrTooLarge, len(b), t, c.cost, maxAmplification)
	}
	return nil
}

type coster struct {
	b     []byte
	off   int
	cost  int
	limit int
	err   error
}

// head reads a value's header: its kind, the element count of an array or
// map, or the byte length of a str, bin or ext.
func (c *coster) head() (kind byte, n int) {
	if c.err != nil || c.off >= len(c.b) {
		c.err = fmt.Errorf("%w: record ends early at %d", ErrCorrupt, c.off)
		return 0, 0
	}
	b := c.b[c.off]
	c.off++
	be := func(k int) int {
		if c.off+k > len(c.b) {
			c.err = fmt.Errorf("%w: record ends early at %d", ErrCorrupt, c.off)
			return 0
		}
		var v uint64
		for _, x := range c.b[c.off : c.off+k] {
			v = v<<8 | uint64(x)
		}
		c.off += k
		return int(v)
	}
	switch {
	case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3:
		return 's', 0
	case b >= 0x80 && b <= 0x8f:
		return 'm', int(b & 0x0f)
	case b >= 0x90 && b <= 0x9f:
		return 'a', int(b & 0x0f)
	case b >= 0xa0 && b <= 0xbf:
		return 'b', int(b & 0x1f)
	}
	switch b {
	case 0xcc, 0xd0:
		c.off++
	case 0xcd, 0xd1:
		c.off += 2
	case 0xca, 0xce, 0xd2:
		c.off += 4
	case 0xcb, 0xcf, 0xd3:
		c.off += 8
	case 0xc4, 0xd9:
		return 'b', be(1)
	case 0xc5, 0xda:
		return 'b', be(2)
	case 0xc6, 0xdb:
		return 'b', be(4)
	case 0xdc:
		return 'a', be(2)
	case 0xdd:
		return 'a', be(4)
	case 0xde:
		return 'm', be(2)
	case 0xdf:
		return 'm', be(4)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte + 1..16 bytes
		return 'b', 1 + 1<<(b-0xd4)
	case 0xc7:
		return 'b', be(1) + 1
	case 0xc8:
		return 'b', be(2) + 1
	case 0xc9:
		return 'b', be(4) + 1
	default:
		c.err = fmt.Errorf("%w: bad msgpack byte %#x at %d", ErrCorrupt, b, c.off-1)
	}
	return 's', 0
}

func (c *coster) add(n int) {
	c.cost += n
	if c.cost > c.limit && c.err == nil {
		c.err = fmt.Errorf("%w: decoding would allocate over %d bytes, %dx the record's %d bytes", ErrTooLarge, c.limit, maxAmplification, len(c.b))
	}
}

// value walks one msgpack value that decodes into t (nil: into interface{}).
func (c *coster) value(t reflect.Type) {
	if c.off < len(c.b) && c.b[c.off] == 0xc0 { // nil allocates nothing wherever it goes
		c.off++
		return
	}
	kind, n := c.head()
	if c.err != nil {
		return
	}
	if kind == 'b' {
		c.off += n
		if t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Slice || t.Kind() == reflect.Interface {
			c.add(n + anyArray)
		}
		return
	}
	for t != nil && t.Kind() == reflect.Pointer {
		c.add(int(t.Elem().Size()))
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	switch kind {
	case 's':
		if t == nil {
			c.add(anyScalar)
		}
	case 'a':
		elem, per, base := reflect.Type(nil), anySlot, anyArray
		if t != nil {
			switch t.Kind() {
			case reflect.Slice:
				elem, per = t.Elem(), int(t.Elem().Size())
			case reflect.Array:
				elem, per = t.Elem(), 0 // an array is part of its parent
			case reflect.Struct: // as_array structs: fields in order
				per = 0
			}
			base = 0
		}
		c.add(n*per + base)
		for i := 0; i < n && c.err == nil; i++ {
			if t != nil && t.Kind() == reflect.Struct {
				c.value(fieldType(t, i))
			} else {
				c.value(elem)
			}
		}
	case 'm':
		if t != nil && t.Kind() == reflect.Struct {
			fields := fieldsOf(t)
			for i := 0; i < n && c.err == nil; i++ {
				if ft, ok := fields[string(c.key())]; ok { // no allocation: the conversion is in the index
					c.value(ft)
				} else {
					c.skip() // msgpack skips unknown fields without allocating
				}
			}
			return
		}
		var kt, vt reflect.Type
		per := 2 * (anySlot + anySlot) // map slots are kept half empty
		if t != nil && t.Kind() == reflect.Map {
			kt, vt = t.Key(), t.Elem()
			per = 2 * int(kt.Size()+vt.Size())
		}
		c.add(n*per + anyMap)
		for i := 0; i < n && c.err == nil; i++ {
			c.value(kt)
			c.value(vt)
		}
	}
}

// key reads a map key as a field name (non-string keys match no field).
func (c *coster) key() []byte {
	start := c.off
	kind, n := c.head()
	if kind != 'b' || c.err != nil {
		c.off = start
		c.skip()
		return nil
	}
	c.off += n
	if c.off > len(c.b) {
		return nil
	}
	return c.b[c.off-n : c.off]
}

func (c *coster) skip() {
	kind, n := c.head()
	switch kind {
	case 'b':
		c.off += n
	case 'a':
		for i := 0; i < n && c.err == nil; i++ {
			c.skip()
		}
	case 'm':
		for i := 0; i < 2*n && c.err == nil; i++ {
			c.skip()
		}
	}
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps the msgpack names of a struct's fields to their types the
// way msgpack names them: the tag's name, else the field name; embedded
// structs without a name are inlined.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(fieldTag(f), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range fieldsOf(ft) {
					if _, taken := m[k]; !taken {
						m[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// fieldType is the type of the i-th exported field (as_array structs).
func fieldType(t reflect.Type, i int) reflect.Type {
	n := 0
	for j := range t.NumField() {
		if f := t.Field(j); f.IsExported() && fieldTag(f) != "-" {
			if n == i {
				return f.Type
			}
			n++
		}
	}
	return nil
}
