package pickle

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// A behavior's state is what msgpack writes of it: its exported fields.
// msgpack drops an unexported field without a word, so a counter kept in one
// came back zero after a restore (at 3 where it had been at 6). Registration
// therefore walks the whole type, through nested structs, pointers, slices,
// arrays and maps, and refuses a field that would be dropped or that msgpack
// cannot encode at all (func, chan, unsafe.Pointer, complex), unless the
// field says it is not part of the state with the struct tag
// `stackless:"-"` (or msgpack's own `msgpack:"-"`).
//
// An interface field is refused too: msgpack writes the value it holds
// without its type, and a restore brought back an int as an int8, a struct
// as a map[string]any, an error as its message: state changed without a
// word. pickle.Boxed saves it with its type; `stackless:",loose"` accepts
// msgpack's generic types for a field whose values are known to survive
// them (strings, say).
//
// Every pickle encoder and decoder reads `stackless` as msgpack's fallback
// tag (msgpack.Encoder.SetCustomStructTag), so an exported field tagged
// `stackless:"-"` is skipped too, by msgpack and by the struct plans alike.

// ErrUnsavedField is wrapped by the error of a registration refused because
// part of the type's state would not be saved.
var ErrUnsavedField = errors.New("a field would not be saved")

// saveTag is the struct tag that marks a field as not saved: `stackless:"-"`.
const saveTag = "stackless"

// looseTag is the stackless tag of a field whose interfaces (at any depth)
// are saved as msgpack saves them, without their types, and read back as
// msgpack's generic types: a choice, not an accident. msgpack reads it as
// its own tag with no name (the field keeps its Go name) and an option it
// ignores.
const looseTag = ",loose"

// fieldTag is the tag msgpack reads for f with pickle's settings: its
// msgpack tag, or else its stackless tag.
func fieldTag(f reflect.StructField) string {
	if tag := f.Tag.Get("msgpack"); tag != "" {
		return tag
	}
	return f.Tag.Get(saveTag)
}

// newEncoder returns a msgpack encoder with pickle's settings.
func newEncoder(w *appendWriter) *msgpack.Encoder {
	e := msgpack.NewEncoder(w)
	e.UseCompactInts(true)
	e.SetCustomStructTag(saveTag)
	return e
}

// resetDecoder points d at rd with pickle's settings (Reset clears them).
func resetDecoder(d *msgpack.Decoder, rd msgpackReader) {
	d.Reset(rd)
	d.SetCustomStructTag(saveTag)
}

// newDecoder returns a msgpack decoder over rd with pickle's settings.
func newDecoder(rd msgpackReader) *msgpack.Decoder {
	d := msgpack.NewDecoder(rd)
	d.SetCustomStructTag(saveTag)
	return d
}

// msgpackReader is what pickle's decoders read from: a bytes.Reader.
type msgpackReader interface {
	Read([]byte) (int, error)
	ReadByte() (byte, error)
	UnreadByte() error
}

// checkSaved returns an error naming the first field of t (by its path, as
// npc.Guard.Inner.count) that a save would drop or could not encode.
func checkSaved(t reflect.Type) error {
	c := saveCheck{seen: map[reflect.Type]bool{}}
	return c.typ(t, typeBase(t))
}

type saveCheck struct {
	seen  map[reflect.Type]bool // structs checked or being checked
	loose bool                  // inside a field tagged `stackless:",loose"`
}

// selfCoded reports whether msgpack encodes t through a method of t (or
// *t), which then owns the whole state of t.
func selfCoded(t reflect.Type) bool {
	for _, i := range selfCoding {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

func (c *saveCheck) typ(t reflect.Type, path string) error {
	if selfCoded(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("%w: %s is a %v, which msgpack cannot encode; tag it `stackless:\"-\"` and set it again after a restore",
			ErrUnsavedField, path, t)
	case reflect.Interface:
		if c.loose {
			return nil
		}
		return fmt.Errorf("%w: %s is an interface (%v), which msgpack saves without the type of what it holds: a restore would bring back an int as an int8 and a struct as a map; "+
			"make it pickle.Boxed[%v] (saved with its type, which must be registered with RegisterValue) or a concrete type; "+
			"tag it `stackless:\",loose\"` to take msgpack's generic types back, or `stackless:\"-\"` if it is not part of the saved state",
			ErrUnsavedField, path, t, t)
	case reflect.Pointer:
		return c.typ(t.Elem(), path)
	case reflect.Slice, reflect.Array:
		return c.typ(t.Elem(), path+"[]")
	case reflect.Map:
		if err := c.typ(t.Key(), path+"[key]"); err != nil {
			return err
		}
		return c.typ(t.Elem(), path+"[]")
	case reflect.Struct:
		if c.seen[t] {
			return nil
		}
		c.seen[t] = true
		for i := range t.NumField() {
			if err := c.field(t.Field(i), path+"."+t.Field(i).Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *saveCheck) field(f reflect.StructField, path string) error {
	st, tagged := f.Tag.Lookup(saveTag)
	mp := f.Tag.Get("msgpack")
	mpName, _, _ := strings.Cut(mp, ",")
	if tagged && st == looseTag {
		if !f.IsExported() {
			return fmt.Errorf("%w: %s is tagged `stackless:\",loose\"` but unexported, so a save would drop it; export it, or tag it `stackless:\"-\"` if it is not part of the saved state", ErrUnsavedField, path)
		}
		was, seen := c.loose, c.seen
		if !c.loose {
			// Structs checked loose are checked again where they are not.
			c.seen = map[reflect.Type]bool{}
		}
		c.loose = true
		defer func() { c.loose, c.seen = was, seen }()
		return c.typ(f.Type, path)
	}
	switch {
	case tagged && st != "-":
		return fmt.Errorf("%w: %s has the tag stackless:%q; the stackless tags are `stackless:\"-\"`, for a field that is not saved, and `stackless:\",loose\"`, for interfaces read back as msgpack's generic types",
			ErrUnsavedField, path, st)
	case tagged && mp != "" && mpName != "-":
		return fmt.Errorf("%w: %s is tagged `stackless:\"-\"` but also msgpack:%q, which saves it; keep one of the two",
			ErrUnsavedField, path, mp)
	case tagged || mpName == "-" || f.Name == "_msgpack":
		return nil // not saved, on purpose (or msgpack's options marker)
	}
	if f.IsExported() {
		return c.typ(f.Type, path)
	}
	if f.Anonymous && f.Type.Kind() == reflect.Struct {
		return c.typ(f.Type, path) // msgpack saves the exported fields of an embedded struct
	}
	return fmt.Errorf("%w: %s is unexported, so a save would drop it and a restore would bring it back zero; export it, or tag it `stackless:\"-\"` if it is not part of the saved state",
		ErrUnsavedField, path)
}
