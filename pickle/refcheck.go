package pickle

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/stackless-go/stackless/tasklet"
)

// Errors of a state that msgpack would write but no load could bring back
// as it was.
var (
	// ErrShared: one value reached twice through pointers or maps, or a
	// pointer into a value that the state holds elsewhere, in one behavior
	// or one value sent. A restore would bring back two separate copies; a
	// cycle cannot be written at all (msgpack would recurse until the
	// process died of a stack overflow).
	ErrShared = errors.New("a value is reached twice")
	// ErrTooDeep: a state nested deeper than MaxNest, which the loaders'
	// Scan would refuse.
	ErrTooDeep = errors.New("state nested too deep")
)

// MaxNest is how deep a behavior's state, or a value sent on a channel,
// may nest (a struct, slice, array or map in another is one level deeper;
// a pointer is not): a record holding it must load inside a world blob, a
// channel's buffer and an IPC frame, all scanned to DefaultMaxDepth, which
// wrap it in up to 16 levels of their own.
const MaxNest = DefaultMaxDepth - 16

// many is the count of pointers behind a slice, array or map of them.
const many = 2

// typeInfo is what the walk before a save needs of a type, worked out once.
// A type is walked when it can hold an interface, nests without bound, or
// reaches two pointers or maps (which can then share, point into each
// other or cycle; one alone cannot). A behavior is a pointer, so one with
// a pointer or a map in its state is walked; a struct-plan behavior, a flat
// value and a pointer to one cost a cached lookup.
type typeInfo struct {
	walk  bool
	refs  int  // pointers and maps it reaches (many: two or more)
	depth int  // the deepest nesting of a value of the type
	amp   bool // a save of it runs the load's cost check (cost.go)
	boxed bool // a Boxed (its pointer holds the method)
	// errBox: a Boxed error, saved as its message and registered chain:
	// sharing one, as two fields holding io.EOF, is fine (an error of a
	// registered type comes back as two equal copies).
	errBox bool
	fields []*savedField
	t      reflect.Type
	// The infos of the element (and key) type, found once each: the walk
	// looked them up in infos at every value, three quarters of its time.
	elem, key atomic.Pointer[typeInfo]
	// onlyBoxed: a struct whose only pointers, maps and interfaces are in
	// Boxed fields of its own, as generated flows are (a received value is
	// kept boxed). While those hold flat values there is nothing to walk.
	onlyBoxed bool
}

type savedField struct {
	info   atomic.Pointer[typeInfo] // found on first use: a type may hold itself
	typ    reflect.Type
	index  int
	name   string
	inline bool // an embedded struct, written among its parent's fields
	slice  bool // a slice, whose elements a pointer could point into
	boxed  bool // a Boxed
	isAny  bool // a Boxed[any], whose value flatBoxes reads in place
	errBox bool // a Boxed error: not walked
	// omitZero: omitempty with an IsZero method, which a save asks and then
	// leaves the value out: a frame that a recursion keeps for its next
	// call (gen), zeroed, is not written, so it is not walked either.
	omitZero bool
	off      uintptr
	refs     int
	depth    int
}

var infos sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if in, ok := infos.Load(t); ok {
		return in.(*typeInfo)
	}
	sh := shapeOf(t, newShapePath())
	in := &typeInfo{walk: sh.refs >= many || sh.depth > MaxNest, refs: sh.refs, depth: sh.depth, amp: sh.amp,
		boxed: reflect.PointerTo(t).Implements(boxedType), t: t}
	in.errBox = in.boxed && isErrBox(t)
	if t.Kind() == reflect.Struct && !in.boxed {
		in.onlyBoxed = true
		for _, f := range savedFields(t) {
			ft := t.Field(f.index).Type
			fs := shapeOf(ft, newShapePath())
			f.depth, f.refs = fs.depth, fs.refs
			f.off, f.boxed = t.Field(f.index).Offset, reflect.PointerTo(ft).Implements(boxedType)
			f.errBox = f.boxed && isErrBox(ft)
			f.isAny = f.boxed && ft.Kind() == reflect.Struct && ft.NumField() == 1 && ft.Field(0).Type == reflect.TypeFor[any]()
			in.fields = append(in.fields, f)
			if f.refs > 0 && !f.boxed || f.slice || f.depth+2 > MaxNest {
				in.onlyBoxed = false
			}
		}
	}
	infos.Store(t, in)
	return in
}

// shapePath is the path of types shapeOf is on, and how many more types it
// may look at before it gives up (shapeSteps).
type shapePath struct {
	on   map[reflect.Type]bool
	left int
}

// shapeSteps bounds shapeOf's work on one type: it follows every path of
// types, which is quick for the types programs declare, exponential for a
// dense graph of types that point at each other.
const shapeSteps = 1 << 14

func newShapePath() *shapePath { return &shapePath{on: map[reflect.Type]bool{}, left: shapeSteps} }

// shape is what shapeOf finds of a type.
type shape struct {
	depth int  // how deep its values nest
	refs  int  // the pointers and maps they reach (many: two or more)
	amp   bool // they could decode past the load's bound (cost.go's checkWritten)
}

// shapeOf finds the shape of t. A type met again on its own path (p.on
// holds the path) nests without bound and reaches many pointers; a pointer
// back to it links nodes of a list or tree, which amplify when each node
// is bigger than maxAmplification bytes (it may be written as an empty
// map). Amplifying are also an interface, and a slice or map of elements
// bigger than that: each could be written as one byte.
func shapeOf(t reflect.Type, p *shapePath) shape {
	if p.left--; p.left < 0 {
		// A graph of types holding each other through pointers (the
		// frames of many flows that recurse into each other) has more
		// paths than can be followed: walk its values instead, and run
		// the cost check, as for any type that holds itself.
		return shape{refs: many, amp: true}
	}
	onPath := p.on
	if t.Kind() == reflect.Pointer && onPath[t.Elem()] {
		return shape{refs: many, amp: t.Elem().Size() > maxAmplification}
	}
	if onPath[t] || len(onPath) > MaxNest {
		return shape{refs: many}
	}
	if t.Implements(boxedType) || reflect.PointerTo(t).Implements(boxedType) {
		return shape{depth: 1, refs: many} // its value is cost-checked where encodeValue writes it
	}
	if selfCoded(t) {
		return shape{} // it owns its encoding (time.Time): trusted, as by Register
	}
	onPath[t] = true
	defer delete(onPath, t)
	switch t.Kind() {
	case reflect.Interface:
		return shape{refs: many, amp: true}
	case reflect.Pointer: // one value, of bounded size: only what it holds counts
		in := shapeOf(t.Elem(), p)
		in.refs = min(in.refs+1, many)
		return in
	case reflect.Map:
		k, v := shapeOf(t.Key(), p), shapeOf(t.Elem(), p)
		amp := 2*(t.Key().Size()+t.Elem().Size()) > maxAmplification || k.amp || v.amp
		if k.refs+v.refs > 0 {
			return shape{refs: many, amp: amp}
		}
		return shape{depth: max(k.depth, v.depth) + 1, refs: 1, amp: amp}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return shape{} // bin
		}
		in := shapeOf(t.Elem(), p)
		if in.refs > 0 {
			in.refs = many
		}
		in.depth++
		in.amp = in.amp || t.Kind() == reflect.Slice && t.Elem().Size() > maxAmplification
		return in
	case reflect.Struct:
		out := shape{depth: 1}
		for _, f := range savedFields(t) {
			in := shapeOf(f.typ, p)
			if !f.inline {
				in.depth++
			}
			out = shape{depth: max(out.depth, in.depth), refs: min(out.refs+in.refs, many), amp: out.amp || in.amp}
		}
		return out
	}
	return shape{}
}

// isErrBox reports whether t is a Boxed[error], which Boxed saves as an
// error (isErrorType), not as a value.
func isErrBox(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.NumField() == 1 && t.Field(0).Type == errorType
}

// child returns the info of t, a type that in's values hold, kept in p.
func (in *typeInfo) child(p *atomic.Pointer[typeInfo], t reflect.Type) *typeInfo {
	if c := p.Load(); c != nil {
		return c
	}
	c := infoOf(t)
	p.Store(c)
	return c
}

// boxed is implemented by Boxed: the walk goes on into the value it holds.
type boxed interface{ boxedValue() any }

var (
	boxedType = reflect.TypeFor[boxed]()
	errorType = reflect.TypeFor[error]()
)

func (b *Boxed[T]) boxedValue() any { return any(b.V) }

// savedFields lists the fields of struct type t that msgpack writes.
func savedFields(t reflect.Type) []*savedField {
	var fs []*savedField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(fieldTag(f), ",") // the msgpack tag, else the stackless one
		if name == "-" || f.Name == "_msgpack" {
			continue
		}
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		fs = append(fs, &savedField{index: i, typ: f.Type, name: f.Name, inline: f.Anonymous && name == "", slice: f.Type.Kind() == reflect.Slice,
			omitZero: slices.Contains(strings.Split(opts, ","), "omitempty") && f.Type.Implements(zeroer)})
	}
	return fs
}

var walks = sync.Pool{New: func() any { return new(refWalk) }}

// checkRefs walks v, whose type's info is in, and refuses it (ErrShared,
// ErrTooDeep) when a load could not bring it back as it is.
func checkRefs(v any, in *typeInfo) error {
	if !in.walk {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		if el := infoOf(rv.Type().Elem()); el.onlyBoxed && flatBoxes(rv.UnsafePointer(), rv.Type().Elem(), el) {
			return nil
		}
	}
	return walkRefs(rv, nil, 0)
}

// checkKind is checkRefs for the behavior b of tasklet id, of kind k, whose
// struct's info the kind holds: a generated flow's check is a look at its
// boxed fields. held, when not nil, is what the other tasklets of the same
// save hold: a value held by two of them is refused too.
func checkKind(k *Kind, b any, held *heldSet, id tasklet.ID) error {
	if k.ptr && k.info.onlyBoxed {
		if p := reflect.ValueOf(b).UnsafePointer(); p != nil && flatBoxes(p, k.typ, k.info) {
			return nil
		}
	}
	return walkRefs(reflect.ValueOf(b), held, id)
}

// heldSet maps the pointer targets and maps that the tasklets of one save
// hold to the tasklet holding each. Writers of one save on several
// goroutines (TaskletWriter.Fork) share one, under its lock.
type heldSet struct {
	mu     sync.Mutex
	by     map[unsafe.Pointer]tasklet.ID
	shared bool
}

// walkRefs is checkRefs past its fast paths, and the check across the
// tasklets of a save (held, for tasklet id) when held is not nil.
func walkRefs(rv reflect.Value, held *heldSet, id tasklet.ID) (err error) {
	w := walks.Get().(*refWalk)
	defer func() {
		if recover() != nil {
			// A type the walk does not know how to look at (reflect
			// refused it): the save goes on as it did before the check.
			err, w = nil, new(refWalk)
			return
		}
		clear(w.seen)
		*w = refWalk{seen: w.seen, order: w.order[:0], spans: w.spans[:0]}
		walks.Put(w)
	}()
	if w.value(rv, infoOf(rv.Type()), 0) {
		outer, inner, found := w.overlap()
		if !found {
			return w.holdAll(rv, held, id)
		}
		// A pointer into a value that another pointer (or the behavior
		// itself) holds: the same sharing, found by address.
		root := typeBase(rv.Type())
		return fmt.Errorf("%w: %s points into %s, which a restore would bring back as two separate copies; "+
			"hold an index (or a field name) into the value instead of the pointer",
			ErrShared, pathTo(rv, inner, root), pathTo(rv, outer, root))
	}
	root := typeBase(rv.Type())
	path := w.pathString(root)
	if w.err == ErrTooDeep {
		return fmt.Errorf("%w: %s is nested more than %d levels deep (structs, slices and maps within each other), which a load refuses; "+
			"flatten it (a list as a slice instead of linked nodes, a tree as a slice of nodes with parent indexes; "+
			"for a flow function that recursed that deep, each call's frame nesting in its caller's, a loop over a slice as its stack)",
			ErrTooDeep, path, MaxNest)
	}
	first := refWalk{find: w.at}
	first.value(rv, infoOf(rv.Type()), 0)
	if len(first.path) < len(w.path) && slices.Equal(first.path, w.path[len(w.path)-len(first.path):]) {
		return fmt.Errorf("%w: %s points back at %s, a cycle, which msgpack cannot write (it would recurse until the stack overflowed); "+
			"keep the links as indexes into a slice, or as IDs, and tag a back pointer `stackless:\"-\"` to rebuild it after a restore",
			ErrShared, path, first.pathString(root))
	}
	return fmt.Errorf("%w: %s and %s point at one value, which a restore would bring back as two separate copies; "+
		"keep one pointer and reach the value through it, or hold an index or an ID instead of the second",
		ErrShared, first.pathString(root), path)
}

// flatBoxes reports whether the Boxed fields of the struct at p (of type
// t) hold only values with no pointer, map or interface in them: the
// common case of a generated flow, checked without a walk.
func flatBoxes(p unsafe.Pointer, t reflect.Type, in *typeInfo) bool {
	for i := range in.fields {
		f := in.fields[i]
		if !f.boxed || f.errBox {
			continue
		}
		var held any
		if f.isAny {
			held = *(*any)(unsafe.Add(p, f.off)) // Boxed[any]'s one field, V
		} else {
			held = reflect.NewAt(f.typ, unsafe.Add(p, f.off)).Interface().(boxed).boxedValue()
		}
		switch held.(type) {
		case nil, int, int64, string, float64, bool:
			continue
		}
		if hi := infoOf(reflect.TypeOf(held)); hi.refs > 0 || hi.depth+2 > MaxNest {
			return false
		}
	}
	return true
}

// holdAll adds what this walk met, in the behavior rv of tasklet id, to
// held, and refuses a value that another tasklet of the save holds: a
// restore would give each its own copy.
func (w *refWalk) holdAll(rv reflect.Value, held *heldSet, id tasklet.ID) error {
	if held == nil || len(w.order) == 0 {
		return nil
	}
	if held.shared {
		held.mu.Lock()
		defer held.mu.Unlock()
	}
	if held.by == nil {
		held.by = map[unsafe.Pointer]tasklet.ID{}
	}
	for _, p := range w.order { // in the walk's order: the first shared value is named
		other, ok := held.by[p]
		if !ok {
			held.by[p] = id
			continue
		}
		if other != id {
			return fmt.Errorf("%w: %s is also held by tasklet %v: a restore would give each tasklet its own copy, and what one wrote the other would no longer see; "+
				"keep the shared state in one tasklet that the others ask over a channel, or hold its ID",
				ErrShared, pathTo(rv, span{at: p}, typeBase(rv.Type())), other)
		}
	}
	return nil
}

// pathTo names where a walk of v first meets the pointer (or the slice)
// of span sp.
func pathTo(v reflect.Value, sp span, root string) string {
	w := refWalk{find: sp.at, findSlice: sp.slice}
	w.value(v, infoOf(v.Type()), 0)
	return w.pathString(root)
}

type refWalk struct {
	seen  map[unsafe.Pointer]struct{} // pointer targets and maps met
	order []unsafe.Pointer            // seen's keys in the order met
	spans []span                      // the memory of every pointer target and slice met
	at    unsafe.Pointer              // the value met twice
	find  unsafe.Pointer              // a pointer the walk stops at, to name its path
	// findSlice: find is a slice's, not a pointer's (the two can share an
	// address: a pointer to a slice's first element).
	findSlice bool
	err       error
	path      []string // where the walk stopped, innermost first (built as it unwinds)
}

// span is the memory of a value reached through a pointer (or a slice's
// elements): another pointer into it shares it.
type span struct {
	from, to uintptr
	slice    bool
	at       unsafe.Pointer
}

// overlap finds a pointer target inside another one, or inside a slice's
// elements. Two slices over one array are not reported: a slice is saved
// as a copy of its elements, and a sub-slice kept to read is common.
func (w *refWalk) overlap() (outer, inner span, found bool) {
	if len(w.spans) < 2 {
		return span{}, span{}, false
	}
	slices.SortFunc(w.spans, func(a, b span) int {
		if a.from != b.from {
			return cmp.Compare(a.from, b.from)
		}
		return cmp.Compare(b.to, a.to) // the outer one first
	})
	open := w.spans[0]
	for _, sp := range w.spans[1:] {
		if sp.from < open.to && !(open.slice && sp.slice) {
			return open, sp, true
		}
		if sp.to > open.to {
			open = sp
		}
	}
	return span{}, span{}, false
}

// pathString names where the walk stopped, from root (the type's name),
// as npc.Guard.Route[3].Next. A long path (a deep list) keeps its first
// and last segments.
func (w *refWalk) pathString(root string) string {
	var b strings.Builder
	b.WriteString(root)
	for i := len(w.path) - 1; i >= 0; i-- {
		if n := len(w.path); n > 12 && i == n-7 {
			fmt.Fprintf(&b, "(%d more)", n-10)
			i = 3
		}
		b.WriteString(w.path[i])
	}
	return b.String()
}

// slice notes the elements of slice v (which a pointer could point into).
func (w *refWalk) slice(v reflect.Value) bool {
	if v.Len() == 0 || v.Type().Elem().Size() == 0 {
		return true
	}
	p := v.UnsafePointer()
	if p == w.find && w.findSlice {
		return false
	}
	w.spans = append(w.spans, span{from: uintptr(p), to: uintptr(p) + uintptr(v.Len())*v.Type().Elem().Size(), slice: true, at: p})
	return true
}

// value walks v, nested depth levels down. false stops the walk, with
// w.err set (nil when it stopped at w.find).
func (w *refWalk) value(v reflect.Value, in *typeInfo, depth int) bool {
	if in.refs == 0 && depth+in.depth <= MaxNest {
		return v.Kind() != reflect.Slice || w.slice(v)
	}
	if depth > MaxNest || in.refs == 0 {
		w.err = ErrTooDeep
		return false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Map:
		if v.IsNil() {
			return true
		}
		p := v.UnsafePointer()
		if p == w.find && !w.findSlice {
			return false
		}
		isPtr := v.Kind() == reflect.Pointer
		size := uintptr(0)
		if isPtr {
			size = v.Type().Elem().Size()
		}
		if !isPtr || size > 0 { // zero-size values share addresses
			if _, ok := w.seen[p]; ok {
				w.at, w.err = p, ErrShared
				return false
			}
			if w.seen == nil {
				w.seen = map[unsafe.Pointer]struct{}{}
			}
			w.seen[p] = struct{}{}
			w.order = append(w.order, p)
		}
		if isPtr {
			if size > 0 {
				w.spans = append(w.spans, span{from: uintptr(p), to: uintptr(p) + size, at: p})
			}
			return w.value(v.Elem(), in.child(&in.elem, in.t.Elem()), depth)
		}
		ki, ei := in.child(&in.key, in.t.Key()), in.child(&in.elem, in.t.Elem())
		if ki.refs+ei.refs == 0 && depth+in.depth <= MaxNest {
			return true // flat keys and values: only the map itself can be shared
		}
		it := v.MapRange()
		for it.Next() {
			if !w.value(it.Key(), ki, depth+1) || !w.value(it.Value(), ei, depth+1) {
				w.path = append(w.path, fmt.Sprintf("[%v]", it.Key()))
				return false
			}
		}
	case reflect.Interface:
		if v.IsNil() {
			return true
		}
		e := v.Elem()
		return w.value(e, infoOf(e.Type()), depth)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && !w.slice(v) {
			return false
		}
		ei := in.child(&in.elem, in.t.Elem())
		for i := range v.Len() {
			if !w.value(v.Index(i), ei, depth+1) {
				w.path = append(w.path, fmt.Sprintf("[%d]", i))
				return false
			}
		}
	case reflect.Struct:
		if in.errBox {
			return true
		}
		if in.boxed {
			return w.boxed(v, depth)
		}
		for _, f := range in.fields {
			d := depth + 1
			if f.inline {
				d = depth
			}
			if f.refs == 0 && d+f.depth <= MaxNest && !f.slice {
				continue // nothing to look at: no reflect.Value made
			}
			fv := v.Field(f.index)
			if f.omitZero && omitted(fv) {
				continue
			}
			if !w.value(fv, in.child(&f.info, f.typ), d) {
				w.path = append(w.path, "."+f.name)
				return false
			}
		}
	}
	return true
}

// omitted reports whether a save leaves out v, an omitempty field with an
// IsZero method: nil, or zero by its own account, as msgpack asks.
func omitted(v reflect.Value) bool {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return true
		}
	} else if v.CanAddr() {
		v = v.Addr() // no copy of the struct for the interface
	}
	return v.Interface().(isZeroer).IsZero()
}

// boxed walks the value a Boxed holds, written as [type name, value].
func (w *refWalk) boxed(v reflect.Value, depth int) bool {
	var held any
	if v.CanAddr() {
		held = v.Addr().Interface().(boxed).boxedValue()
	} else {
		held = v.Field(0).Interface()
	}
	if held != nil && !w.value(reflect.ValueOf(held), infoOf(reflect.TypeOf(held)), depth+1) {
		w.path = append(w.path, ".V")
		return false
	}
	return true
}
