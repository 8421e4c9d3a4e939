package pickle

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sync"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/tasklet"
)

// A struct plan is msgpack v5.3.6's encoding of one behavior struct type,
// compiled once: the same bytes msgpack writes with UseCompactInts (a map of
// field name to value), read and written straight through field offsets
// instead of msgpack's reflection, sync.Map lookups per field and
// reflect.AppendSlice growth, which dominated LoadTasklet.
//
// Old snapshots and other tools must keep agreeing with msgpack, so a plan
// exists only for the types whose msgpack encoding it reproduces exactly:
// structs of bool, int*, uint*, float*, string, []byte, slices and arrays of
// those, nested structs by value and exported embedded structs, with tags
// that only rename, skip ("-") or say omitempty. Anything else (pointers,
// maps, interfaces, time.Time, types with their own marshalling methods,
// inline/alias/intern tags, shadowed names) keeps msgpack for the whole
// behavior. Decoding mirrors msgpack's leniency: nil reads as zero, any
// integer encoding fits any integer or float field (truncated the way
// reflect's SetInt truncates), strings come from str or bin, structs from a
// map or an array, unknown keys are skipped and repeated keys overwrite in
// place.

type planKind uint8

const (
	pBool planKind = iota
	pInt8
	pInt16
	pInt32
	pInt64
	pUint8
	pUint16
	pUint32
	pUint64
	pFloat32
	pFloat64
	pString
	pBytes     // a slice of a byte kind: bin, or nil
	pByteArray // an array of a byte kind: bin
	pStrings   // []string exactly: msgpack keeps the old slice on nil
	pSlice
	pArray
	pStruct
)

// codec is how one Go type is written and read.
type codec struct {
	kind planKind
	typ  reflect.Type
	elem *codec // slice and array elements
	size uintptr
	n    int         // array length
	st   *structPlan // pStruct
	zero bool        // has IsZero (value receiver): omitempty asks it
}

type planField struct {
	name string
	key  []byte // the name as msgpack writes it
	off  uintptr
	omit bool // omitempty
	c    *codec
}

type structPlan struct {
	typ    reflect.Type
	fields []planField            // msgpack's field list, in its order
	byName map[string]*planField  // fields plus the names of inlined embedded structs
	omit   bool                   // some field is omitempty
	zero   func(p unsafe.Pointer) // clears a value of typ
	// dead: *typ is a DeadFielder, and the plan asks it which fields to
	// leave out; set only once the plan has been checked against msgpack,
	// which writes every field (canDie until then).
	dead, canDie bool
}

// DeadFielder is implemented (with a pointer receiver) by a struct whose
// fields do not all matter where its value stands: stackless gen's frames,
// whose locals are dead at some of their suspension points (a guard's copy
// of its body while the function it called holds the one in use). Bit i of
// DeadFields leaves the struct's i-th field in msgpack's order (its
// exported fields, as declared) out of a save, and a load gives that field
// its zero value. Only struct plans honour it: for a type without a plan
// msgpack writes every field, which loads the same.
type DeadFielder interface{ DeadFields() uint64 }

var deadFielder = reflect.TypeFor[DeadFielder]()

// arm makes sp, and the plans of the structs inside it, honour DeadFields.
func (sp *structPlan) arm() {
	sp.dead = sp.canDie
	for i := range sp.fields {
		sp.fields[i].c.arm()
	}
}

func (c *codec) arm() {
	switch {
	case c.st != nil:
		c.st.arm()
	case c.elem != nil:
		c.elem.arm()
	}
}

// sliceHeader is the layout of every Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// plans caches planFor by type; a nil *structPlan means msgpack.
var plans sync.Map

// planFor returns the plan of struct type t, or nil if msgpack must encode
// it.
func planFor(t reflect.Type) *structPlan {
	if v, ok := plans.Load(t); ok {
		return v.(*structPlan)
	}
	sp, _ := buildPlan(t)
	v, _ := plans.LoadOrStore(t, sp)
	return v.(*structPlan)
}

// buildPlan compiles t and checks the plan against msgpack on two probe
// values (zero and filled in), which also catches codecs registered with
// msgpack.Register or RegisterExt that no method set shows. why says why
// there is no plan.
func buildPlan(t reflect.Type) (sp *structPlan, why string) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Sprintf("%v is not a struct", t)
	}
	b := planBuilder{busy: map[reflect.Type]bool{}}
	sp = b.structPlan(t)
	if sp == nil {
		return nil, b.why
	}
	for _, fill := range []bool{false, true} {
		v := reflect.New(t)
		if fill {
			fillProbe(v.Elem(), 1)
		}
		if why := sp.check(v); why != "" {
			return nil, why
		}
	}
	sp.arm()
	return sp, ""
}

// check compares the plan with msgpack on the value v points to.
func (sp *structPlan) check(v reflect.Value) string {
	want, err := marshalCompact(v.Interface())
	if err != nil {
		return fmt.Sprintf("msgpack cannot encode the probe: %v", err)
	}
	if got := sp.append(nil, v.UnsafePointer()); !bytes.Equal(got, want) {
		return fmt.Sprintf("the plan writes % x where msgpack writes % x", got, want)
	}
	byPlan, byMsgpack := reflect.New(sp.typ), reflect.New(sp.typ)
	c := cursor{b: want}
	if sp.decode(&c, byPlan.UnsafePointer()); c.err != nil || c.off != len(want) {
		return fmt.Sprintf("the plan cannot read msgpack's % x: %v", want, c.err)
	}
	if err := newDecoder(bytes.NewReader(want)).Decode(byMsgpack.Interface()); err != nil {
		return fmt.Sprintf("msgpack cannot read its own % x: %v", want, err)
	}
	if !reflect.DeepEqual(byPlan.Interface(), byMsgpack.Interface()) {
		return fmt.Sprintf("the plan reads % x differently from msgpack", want)
	}
	return ""
}

// marshalCompact is msgpack.Marshal with the settings of the pickle encoder.
func marshalCompact(v any) ([]byte, error) {
	var w appendWriter
	err := newEncoder(&w).Encode(v)
	return w.b, err
}

// fillProbe sets every planned field of v to a value that is not zero, with
// two elements in each slice.
func fillProbe(v reflect.Value, seed int) int {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%100 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.String:
		v.SetString(fmt.Sprintf("p%d", seed))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fallthrough
	case reflect.Array:
		for i := range v.Len() {
			seed = fillProbe(v.Index(i), seed)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				seed = fillProbe(v.Field(i), seed)
			}
		}
	}
	return seed + 1
}

// encodeBehavior writes a behavior as msgpack would, through its kind's
// plan when it has one.
func encodeBehavior(e *msgpack.Encoder, k *Kind, b tasklet.Behavior) error {
	if k.ptr {
		w, ok := e.Writer().(*appendWriter)
		p := reflect.ValueOf(b).UnsafePointer()
		if sp := planFor(k.typ); sp != nil && ok && p != nil {
			w.b = sp.append(w.b, p)
			return nil
		}
	}
	return e.Encode(b)
}

// restGrabber receives the unread bytes of a bytes.Reader from WriteTo
// without copying and without consuming them. Pooled: WriteTo takes an
// io.Writer, so a grabber on the stack would escape, one allocation per
// tasklet.
type restGrabber struct{ b []byte }

func (g *restGrabber) Write(p []byte) (int, error) { g.b = p; return 0, nil }

var grabbers = sync.Pool{New: func() any { return new(restGrabber) }}

// unread returns the bytes rd has not read yet, without copying.
func unread(rd *bytes.Reader) []byte {
	g := grabbers.Get().(*restGrabber)
	_, _ = rd.WriteTo(g) // io.ErrShortWrite: g took nothing, on purpose
	b := g.b
	g.b = nil
	grabbers.Put(g)
	return b
}

// decodePlanned decodes the behavior of kind k at the decoder's position
// through its plan. ok is false when k has no plan (or d does not read from
// memory): decode with msgpack then.
func decodePlanned(d *msgpack.Decoder, k *Kind) (b tasklet.Behavior, ok bool, err error) {
	if !k.ptr {
		return nil, false, nil
	}
	sp := planFor(k.typ)
	rd, isMem := d.Buffered().(*bytes.Reader)
	if sp == nil || !isMem {
		return nil, false, nil
	}
	v := reflect.New(k.typ)
	c := cursor{b: unread(rd)}
	if sp.decode(&c, v.UnsafePointer()); c.err != nil {
		return nil, true, fmt.Errorf("kind %q: %w", k.Name, c.err)
	}
	if _, err := rd.Seek(int64(c.off), io.SeekCurrent); err != nil {
		return nil, true, fmt.Errorf("kind %q: %w", k.Name, err)
	}
	b, isBehavior := v.Interface().(tasklet.Behavior)
	if !isBehavior {
		return nil, true, fmt.Errorf("kind %q: %v does not implement Step", k.Name, v.Type())
	}
	return b, true, nil
}
