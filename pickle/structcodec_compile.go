package pickle

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/vmihailenco/msgpack/v5"
)

// Compiling a struct plan: which types msgpack encodes in a way the plan
// reproduces, following msgpack v5.3.6's getFields and getEncoder.

// Interfaces through which msgpack would let a type encode itself.
var selfCoding = []reflect.Type{
	reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.CustomDecoder](),
	reflect.TypeFor[msgpack.Marshaler](), reflect.TypeFor[msgpack.Unmarshaler](),
	reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.BinaryUnmarshaler](),
	reflect.TypeFor[encoding.TextMarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
}

// isZeroer is what msgpack asks omitempty fields before looking at them;
// zeroer is its type.
type isZeroer interface{ IsZero() bool }

var zeroer = reflect.TypeFor[isZeroer]()

type planBuilder struct {
	busy map[reflect.Type]bool // structs being compiled: a cycle goes to msgpack
	why  string
}

func (b *planBuilder) no(format string, args ...any) *codec {
	if b.why == "" {
		b.why = fmt.Sprintf(format, args...)
	}
	return nil
}

func (b *planBuilder) codec(t reflect.Type) *codec {
	for _, i := range selfCoding {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return b.no("%v implements %v", t, i)
		}
	}
	// msgpack asks an omitempty value's IsZero (one with a value receiver:
	// it asks the value) before its kind; stackless gen's callee frames
	// have one, so that an inactive frame is not saved.
	c := &codec{typ: t, size: t.Size(), zero: t.Implements(zeroer)}
	switch k := t.Kind(); k {
	case reflect.Bool:
		c.kind = pBool
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		c.kind = sized(pInt8, t.Size())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		c.kind = sized(pUint8, t.Size())
	case reflect.Float32:
		c.kind = pFloat32
	case reflect.Float64:
		c.kind = pFloat64
	case reflect.String:
		c.kind = pString
	case reflect.Slice, reflect.Array:
		e := t.Elem()
		switch {
		case e.Kind() == reflect.Uint8 && k == reflect.Slice:
			c.kind = pBytes // msgpack looks no further than the element's kind
		case e.Kind() == reflect.Uint8:
			c.kind, c.n = pByteArray, t.Len()
		case e == reflect.TypeFor[string]() && k == reflect.Slice:
			c.kind, c.elem = pStrings, &codec{kind: pString, typ: e, size: e.Size()}
		default:
			if c.elem = b.codec(e); c.elem == nil {
				return nil
			}
			c.kind = pSlice
			if k == reflect.Array {
				c.kind, c.n = pArray, t.Len()
			}
		}
	case reflect.Struct:
		if c.st = b.structPlan(t); c.st == nil {
			return nil
		}
		c.kind = pStruct
	default:
		return b.no("%v is a %v", t, k)
	}
	return c
}

func sized(base planKind, size uintptr) planKind {
	switch size {
	case 1:
		return base
	case 2:
		return base + 1
	case 4:
		return base + 2
	}
	return base + 3
}

// structPlan follows msgpack's getFields: skip "-" and unexported fields,
// inline exported embedded structs, and give up wherever msgpack would do
// something the plan does not (see the top of this file).
func (b *planBuilder) structPlan(t reflect.Type) *structPlan {
	if b.busy[t] {
		b.no("%v contains itself", t)
		return nil
	}
	b.busy[t] = true
	defer delete(b.busy, t)
	for _, i := range selfCoding {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			b.no("%v implements %v", t, i)
			return nil
		}
	}
	sp := &structPlan{typ: t, canDie: reflect.PointerTo(t).Implements(deadFielder)}
	sp.zero = func(p unsafe.Pointer) { reflect.NewAt(t, p).Elem().SetZero() }
	var embedded []planField // decoded by name, never written
	names := map[string]bool{}
	add := func(f planField, list *[]planField) bool {
		if names[f.name] {
			b.no("%v has two fields named %q", t, f.name)
			return false
		}
		names[f.name] = true
		f.key = mpack.AppendStr(nil, f.name)
		*list = append(*list, f)
		return true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "_msgpack" {
			b.no("%v has a _msgpack field", t)
			return nil
		}
		name, omit, ok := parseTag(fieldTag(f)) // msgpack's, else stackless's
		if !ok {
			b.no("%v.%s has the tag %q", t, f.Name, fieldTag(f))
			return nil
		}
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.Anonymous && (!f.IsExported() || f.Type.Kind() == reflect.Pointer) {
			b.no("%v embeds %v", t, f.Type)
			return nil
		}
		c := b.codec(f.Type)
		if c == nil {
			return nil
		}
		if f.Anonymous && c.kind == pStruct {
			// msgpack inlines the fields of an embedded struct (when no
			// name clashes, which the plan refuses anyway) and still
			// decodes the whole struct under its own name.
			for _, in := range c.st.fields {
				in.off += f.Offset
				if !add(in, &sp.fields) {
					return nil
				}
			}
			if !add(planField{name: name, off: f.Offset, c: c}, &embedded) {
				return nil
			}
			continue
		}
		if !add(planField{name: name, off: f.Offset, omit: omit, c: c}, &sp.fields) {
			return nil
		}
	}
	sp.byName = make(map[string]*planField, len(sp.fields)+len(embedded))
	for _, list := range [][]planField{sp.fields, embedded} {
		for i := range list {
			sp.byName[list[i].name] = &list[i]
			sp.omit = sp.omit || list[i].omit
		}
	}
	return sp
}

// parseTag reads a msgpack tag the plan understands: a name, "-", and the
// option omitempty. Quotes, key:value options and any other option (inline,
// noinline, alias, intern, as_array) make ok false.
func parseTag(tag string) (name string, omit, ok bool) {
	if strings.ContainsAny(tag, `:'\(`) {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	for _, opt := range parts[1:] {
		switch strings.TrimSpace(opt) {
		case "":
		case "omitempty":
			omit = true
		case "loose": // savecheck.go's; msgpack ignores it
		default:
			return "", false, false
		}
	}
	return strings.TrimSpace(parts[0]), omit, true
}
