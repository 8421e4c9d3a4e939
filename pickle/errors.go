package pickle

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// An error is saved as nil, as [name, message], or, when more than its
// message can come back, as [name, message, self, causes]:
//
//   - name: the registered name of a sentinel (RegisterError), else "".
//     A sentinel comes back as itself and nothing else is written.
//   - self: the error itself as a typed value ([type, payload]) when its
//     type is registered with RegisterValue, else nil. It comes back as a
//     copy of itself, with whatever it wraps in its own fields.
//   - causes: what errors.Is and errors.As could find in the errors it
//     wraps (Unwrap, at any depth): each registered sentinel by its name
//     (builtinErrors are registered in every registry), also one that only
//     an Is method of the error or of one it wraps matches, and each error
//     of a registered value type as a typed value. The message already
//     holds the text of the rest.
//
// So fmt.Errorf("job %d: %w", n, ErrTimeout) comes back with its message
// and errors.Is(err, ErrTimeout) still true, and a wrapped *QuotaError,
// its type registered, is still found by errors.As. An error with nothing but
// text is written as [name, message], as before these forms existed.

// Bounds on the walk of a chain of wrapped errors: an Unwrap that returns
// a new error each time, or joins that branch at every level, end here;
// what lies beyond keeps its text in the message.
const (
	maxCauseVisits = 256 // errors looked at
	maxCauses      = 64  // causes written
)

// cause is one error of a chain that keeps its identity through a save.
type cause struct {
	sentinel string // a registered sentinel's name
	value    error  // else an error of a registered value type
}

// encodeError writes err in one of the forms above.
func (r *Registry) encodeError(e *msgpack.Encoder, err error) error {
	if err == nil {
		return e.EncodeNil()
	}
	msg, bad := errorMessage(err)
	if bad != nil {
		return bad
	}
	name := r.errorName(err)
	var self error
	var causes []cause
	if name == "" {
		if r.isValueType(err) {
			self = err
		} else {
			causes = r.causesOf(err)
		}
	}
	if self == nil && len(causes) == 0 {
		e.EncodeArrayLen(2)
		e.EncodeString(name)
		return e.EncodeString(msg)
	}
	e.EncodeArrayLen(4)
	e.EncodeString(name)
	e.EncodeString(msg)
	if self != nil {
		if err := r.encodeValue(e, self); err != nil {
			return fmt.Errorf("pickle: error %q: %w", msg, err)
		}
		return e.EncodeNil()
	}
	e.EncodeNil()
	e.EncodeArrayLen(len(causes))
	for _, c := range causes {
		if c.value == nil {
			e.EncodeString(c.sentinel)
			continue
		}
		if err := r.encodeValue(e, c.value); err != nil {
			return fmt.Errorf("pickle: error %q, wrapping a %T: %w", msg, c.value, err)
		}
	}
	return nil
}

// causesOf lists the errors that err wraps and that keep their identity
// through a save, nearest first (breadth first, so that an endless branch
// does not hide its siblings), each sentinel once. It does not look into
// those: a sentinel is itself, a value keeps its own causes.
func (r *Registry) causesOf(err error) []cause {
	w := &causeWalk{r: r}
	w.matched(err)
	queue := []error{err}
	for visits := 0; len(queue) > 0 && visits < maxCauseVisits && len(w.out) < maxCauses; {
		var wrapped []error
		switch u := queue[0].(type) {
		case interface{ Unwrap() error }:
			wrapped = []error{u.Unwrap()}
		case interface{ Unwrap() []error }:
			wrapped = u.Unwrap()
		}
		queue = queue[1:]
		for _, e := range wrapped {
			if visits++; e == nil || visits > maxCauseVisits {
				continue
			}
			switch name := r.errorName(e); {
			case name != "":
				w.add(cause{sentinel: name})
			case r.isValueType(e):
				w.add(cause{value: e})
			default:
				w.matched(e)
				queue = append(queue, e)
			}
		}
	}
	return w.out
}

// causeWalk gathers the causes of one error for causesOf.
type causeWalk struct {
	r     *Registry
	out   []cause
	known map[string]error // the registry's sentinels, once an Is method needs them
}

// add appends c, a sentinel once, up to maxCauses.
func (w *causeWalk) add(c cause) {
	dup := func(x cause) bool { return x.value == nil && x.sentinel == c.sentinel }
	if len(w.out) < maxCauses && (c.value != nil || !slices.ContainsFunc(w.out, dup)) {
		w.out = append(w.out, c)
	}
}

// matched adds the registered sentinels that err says it is by an Is
// method of its own (a syscall.Errno is fs.ErrNotExist), which the type
// does not keep through a save, in name order so that one error saves the
// same bytes each time.
func (w *causeWalk) matched(err error) {
	is, ok := err.(interface{ Is(error) bool })
	if !ok {
		return
	}
	if w.known == nil {
		// Copied under the lock and matched outside it: the program's Is
		// may panic (the save then fails with ErrPanic) and must not leave
		// the lock held.
		w.r.mu.RLock()
		w.known = maps.Clone(w.r.errs)
		w.r.mu.RUnlock()
	}
	for _, name := range slices.Sorted(maps.Keys(w.known)) {
		if is.Is(w.known[name]) {
			w.add(cause{sentinel: name})
		}
	}
}

// isValueType reports whether err's dynamic type is registered with
// RegisterValue.
func (r *Registry) isValueType(err error) bool {
	r.mu.RLock()
	_, ok := r.valueName[reflect.TypeOf(err)]
	r.mu.RUnlock()
	return ok
}

// errorMessage is err.Error(), or an error wrapping ErrPanic if that
// panics: most often a nil pointer kept in an error variable, which is not
// a nil error and whose Error method dereferences it.
func errorMessage(err error) (msg string, bad error) {
	defer func() {
		if p := recover(); p != nil {
			bad = fmt.Errorf("%w: an error of type %T: its Error method panicked: %v; the panic was stopped here. "+
				"An error variable holding a nil %T is not a nil error: keep nil itself in it (return nil, not a nil %T), or make Error work on every value kept", ErrPanic, err, p, err, err)
		}
	}()
	return err.Error(), nil
}

// errorName is the registered name of a sentinel error, "" for any other.
// Errors of uncomparable types (a slice of errors, say) cannot be map keys
// and are never sentinels.
func (r *Registry) errorName(err error) (name string) {
	if !reflect.TypeOf(err).Comparable() {
		return ""
	}
	// A comparable struct can still hold an uncomparable value in an
	// interface field; hashing it panics, and such an error is no sentinel.
	defer func() {
		if recover() != nil {
			name = ""
		}
	}()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.errName[err]
}

// decodeError reads any of the forms encodeError writes. A sentinel or a
// value type this program does not register comes back as what remains:
// the message, and the causes it does know.
func (r *Registry) decodeError(d *msgpack.Decoder) (error, error) {
	code, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if code == 0xc0 {
		return nil, d.DecodeNil()
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n != 2 && n != 4 {
		return nil, fmt.Errorf("%w: an error must be [name, message] or [name, message, self, causes]", ErrCorrupt)
	}
	name, err := d.DecodeString()
	if err != nil {
		return nil, err
	}
	msg, err := d.DecodeString()
	if err != nil {
		return nil, err
	}
	var self error
	var causes []error
	if n == 4 {
		if self, err = r.decodeErrorValue(d); err != nil {
			return nil, err
		}
		if causes, err = r.decodeCauses(d); err != nil {
			return nil, err
		}
	}
	if name != "" {
		r.mu.RLock()
		e, ok := r.errs[name]
		r.mu.RUnlock()
		if ok {
			return e, nil
		}
	}
	switch {
	case self != nil:
		return self, nil
	case len(causes) > 0:
		return &savedChain{msg: msg, causes: causes}, nil
	}
	return &savedError{msg}, nil
}

// decodeCauses reads the causes of an error: nil, or an array of sentinel
// names and typed values.
func (r *Registry) decodeCauses(d *msgpack.Decoder) ([]error, error) {
	code, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if code == 0xc0 {
		return nil, d.DecodeNil()
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 || n > maxCauses {
		return nil, fmt.Errorf("%w: an error's causes must be an array of at most %d", ErrCorrupt, maxCauses)
	}
	var causes []error
	for range n {
		if code, err = d.PeekCode(); err != nil {
			return nil, err
		}
		if msgpcode.IsString(code) {
			name, err := d.DecodeString()
			if err != nil {
				return nil, err
			}
			r.mu.RLock()
			e, ok := r.errs[name]
			r.mu.RUnlock()
			if ok {
				causes = append(causes, e)
			}
			continue
		}
		e, err := r.decodeErrorValue(d)
		if err != nil {
			return nil, err
		}
		if e != nil {
			causes = append(causes, e)
		}
	}
	return causes, nil
}

// decodeErrorValue reads nil or a typed value that must be an error; a
// type this program does not register is skipped (nil, no error).
func (r *Registry) decodeErrorValue(d *msgpack.Decoder) (error, error) {
	name, isNil, err := named(d, "an error's value must be [type, payload]")
	if isNil || err != nil {
		return nil, err
	}
	r.mu.RLock()
	_, known := r.values[name]
	r.mu.RUnlock()
	if !known {
		return nil, d.Skip()
	}
	v, err := r.decodeNamed(d, name)
	if err != nil {
		return nil, err
	}
	e, ok := v.(error)
	if !ok || e == nil {
		return nil, fmt.Errorf("%w: a saved error's value of type %q is not an error", ErrCorrupt, name)
	}
	return e, nil
}

// savedError is an error restored from a snapshot that was not a registered
// sentinel: it keeps the message only. A pointer to a struct, as errors.New
// makes: fmt.Sprint puts no space beside an operand of a string kind, so
// a string-kinded error printed after a restore read differently
// (`fmt.Sprint(err, 2)`), and two restored errors with one message were
// equal where the errors saved were not.
type savedError struct{ msg string }

func (e *savedError) Error() string { return e.msg }

// savedChain is an error restored with the errors of its chain that kept
// their identity: its message as saved, and errors.Is and errors.As find
// those through Unwrap. Saved again, it writes the same.
type savedChain struct {
	msg    string
	causes []error
}

func (e *savedChain) Error() string   { return e.msg }
func (e *savedChain) Unwrap() []error { return e.causes }
