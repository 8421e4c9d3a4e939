package pickle

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/stackless-go/stackless/tasklet"
)

// Errors that callers test with errors.Is.
var (
	ErrUnknownKind  = errors.New("unknown kind")
	ErrKindVersion  = errors.New("kind version mismatch")
	ErrUnregistered = errors.New("type not registered")
	ErrFormat       = errors.New("unsupported format")
	ErrTooLarge     = errors.New("record too large")
	ErrCorrupt      = errors.New("corrupt record")
)

// Kind is a registered behavior type.
type Kind struct {
	Name    string
	Version uint32
	typ     reflect.Type // the struct type; behaviors are *struct
	ptr     bool         // the behavior is a pointer to typ
	upgrade map[uint32]func([]byte, *Registry) (tasklet.Behavior, error)
	plan    *kindPlan // the struct plan of typ, looked up once (taskfast.go)
	walk    bool      // its state is walked before a save (refcheck.go)
	info    *typeInfo // what the walk needs of typ (refcheck.go)
}

// Registry maps kind names to behavior types and value type names to Go
// types. It is safe for concurrent use; register at init time.
type Registry struct {
	mu         sync.RWMutex
	kinds      map[string]*Kind
	kindOfType map[reflect.Type]*Kind
	values     map[string]reflect.Type
	valueName  map[reflect.Type]valueType
	errs       map[string]error
	errName    map[error]string
	maxRecord  int
	maxWorld   int
}

// valueType is a registered value type's name and what a save checks of
// it (refcheck.go), found once, at registration.
type valueType struct {
	name string
	info *typeInfo
}

// Default is the registry the package-level functions use.
var Default = NewRegistry()

// DefaultMaxRecord bounds one record's size (16 MiB).
const DefaultMaxRecord = 16 << 20

// DefaultMaxWorld bounds a whole world packed as one blob (DumpWorld, 1
// GiB): a world holds many records, each bounded by the record limit, so
// half a million tasklets of 150 bytes (77 MB) is an ordinary world, not a
// damaged one.
const DefaultMaxWorld = 1 << 30

// NewRegistry returns a registry that knows the built-in value types and
// the runtime's sentinel errors.
func NewRegistry() *Registry {
	r := &Registry{
		kinds: map[string]*Kind{}, kindOfType: map[reflect.Type]*Kind{},
		values: map[string]reflect.Type{}, valueName: map[reflect.Type]valueType{},
		errs: map[string]error{}, errName: map[error]string{}, maxRecord: DefaultMaxRecord, maxWorld: DefaultMaxWorld,
	}
	for name, v := range builtinValues {
		r.values[name] = reflect.TypeOf(v)
		r.valueName[reflect.TypeOf(v)] = valueType{name, infoOf(reflect.TypeOf(v))}
	}
	for name, err := range builtinErrors {
		r.errs[name], r.errName[err] = err, name
	}
	return r
}

// KindOption configures a kind.
type KindOption func(*Kind) error

// Upgrade converts the state saved by version `from` of a kind, decoded into
// Old (the old behavior struct, kept in the program for this purpose), into
// a behavior of the current version.
func Upgrade[Old any](from uint32, fn func(old *Old) (tasklet.Behavior, error)) KindOption {
	return func(k *Kind) error {
		if from == k.Version {
			return fmt.Errorf("pickle: kind %q: an upgrade from version %d, the current version, makes no sense", k.Name, from)
		}
		k.upgrade[from] = func(b []byte, r *Registry) (tasklet.Behavior, error) {
			old := new(Old)
			if err := r.decodeInto(b, old); err != nil {
				return nil, err
			}
			return fn(old)
		}
		return nil
	}
}

// Register records the behavior type of proto (a pointer to a struct, or a
// struct) as kind name at the given version. The behavior's exported fields
// are its saved state; Register refuses (with ErrUnsavedField, naming the
// field by its path) a type with a field, at any depth, that a save would
// drop or cannot encode: an unexported field, a func, a chan, or change:
// an interface, which msgpack saves without its type (use Boxed, or tag it
// `stackless:",loose"`). Tag a field that is not part of the state
// `stackless:"-"`: it is not saved and comes back zero after a restore.
func (r *Registry) Register(name string, version uint32, proto tasklet.Behavior, opts ...KindOption) error {
	if name == "" {
		return errors.New("pickle: register: empty kind name")
	}
	t := reflect.TypeOf(proto)
	if t == nil {
		return fmt.Errorf("pickle: register kind %q: nil behavior", name)
	}
	k := &Kind{Name: name, Version: version, typ: t, upgrade: map[uint32]func([]byte, *Registry) (tasklet.Behavior, error){},
		plan: new(kindPlan)}
	if t.Kind() == reflect.Pointer {
		k.typ, k.ptr = t.Elem(), true
	}
	if k.typ.Kind() != reflect.Struct {
		return fmt.Errorf("pickle: register kind %q: %v is not a struct or a pointer to one; a behavior's state must be its exported fields", name, t)
	}
	if err := checkSaved(k.typ); err != nil { // savecheck.go
		return fmt.Errorf("pickle: register kind %q: %w", name, err)
	}
	k.walk, k.info = infoOf(t).walk, infoOf(k.typ)
	for _, o := range opts {
		if err := o(k); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.kinds[name]; ok && (old.typ != k.typ || old.ptr != k.ptr) {
		return fmt.Errorf("pickle: kind %q is registered already, for %v", name, r.protoType(old))
	}
	if old, ok := r.kindOfType[t]; ok && old.Name != name {
		return fmt.Errorf("pickle: %v is registered already, as kind %q", t, old.Name)
	}
	r.kinds[name], r.kindOfType[t] = k, k
	return nil
}

// MustRegister is Register that panics, for init functions.
func (r *Registry) MustRegister(name string, version uint32, proto tasklet.Behavior, opts ...KindOption) {
	if err := r.Register(name, version, proto, opts...); err != nil {
		panic(err)
	}
}

// Register registers a kind in the Default registry.
func Register(name string, version uint32, proto tasklet.Behavior, opts ...KindOption) error {
	return Default.Register(name, version, proto, opts...)
}

// MustRegister registers a kind in the Default registry or panics.
func MustRegister(name string, version uint32, proto tasklet.Behavior, opts ...KindOption) {
	Default.MustRegister(name, version, proto, opts...)
}

// RegisterValue registers the Go type T (and *T) under name, so values of
// that type can travel on channels and in snapshots. Like Register, it
// refuses a type with a field that would not be saved (ErrUnsavedField),
// unless that field is tagged `stackless:"-"`.
func RegisterValue[T any](r *Registry, name string) error {
	t := reflect.TypeFor[T]()
	if name == "" {
		return fmt.Errorf("pickle: register value type %v: empty name", t)
	}
	if err := checkSaved(t); err != nil { // savecheck.go
		return fmt.Errorf("pickle: register value type %v as %q: %w", t, name, err)
	}
	names := map[string]reflect.Type{name: t, "*" + name: reflect.PointerTo(t)}
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, typ := range names { // check both names before changing anything
		if old, ok := r.values[n]; ok && old != typ {
			return fmt.Errorf("pickle: value name %q is registered already, for %v", n, old)
		}
	}
	for n, typ := range names {
		r.values[n], r.valueName[typ] = typ, valueType{n, infoOf(typ)}
	}
	return nil
}

// RegisterError registers a sentinel error so that it is still the same
// error (errors.Is) after a round trip, also where another error wraps it.
// Other errors come back with the same message, as a copy of their type if
// it is registered with RegisterValue, else as text wrapping what of their
// chain is registered.
func (r *Registry) RegisterError(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[name], r.errName[err] = err, name
}

// SetMaxRecord bounds the size of one record to encode or decode.
func (r *Registry) SetMaxRecord(n int) { r.maxRecord = n }

// SetMaxWorld bounds the size of a whole world blob (DumpWorld, LoadWorld,
// SplitWorld); each of its records is still bounded by SetMaxRecord.
func (r *Registry) SetMaxWorld(n int) { r.maxWorld = n }

// KindOf returns the kind of a behavior.
func (r *Registry) KindOf(b tasklet.Behavior) (*Kind, error) {
	t := reflect.TypeOf(b)
	if t == nil {
		return nil, fmt.Errorf("pickle: the tasklet has no behavior (a record read with Inspect cannot be written back): %w", ErrUnregistered)
	}
	r.mu.RLock()
	k := r.kindOfType[t]
	r.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("pickle: behavior type %v: %w as a kind; call pickle.Register(\"name\", 1, &%s{}) at init", t, ErrUnregistered, typeBase(t))
	}
	return k, nil
}

// KindName names a behavior for scheduler errors and introspection
// (scheduler.WithKindNames(reg.KindName)); "" if unregistered.
func (r *Registry) KindName(b tasklet.Behavior) string {
	r.mu.RLock()
	k := r.kindOfType[reflect.TypeOf(b)]
	r.mu.RUnlock()
	if k == nil {
		return ""
	}
	return k.Name
}

// Kinds lists the registered kinds by name.
func (r *Registry) Kinds() []Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) kind(name string) *Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.kinds[name]
}

func typeBase(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}
