// Package pickle is the msgpack format of tasklets, channels and whole
// scheduler worlds, and the registry of the kinds and value types it may
// decode.
//
// A behavior type is registered as a kind: a stable name and a version.
// A tasklet record holds its kind, the kind's version, the scheduler's
// bookkeeping and the behavior's exported fields. Loading a record whose kind
// is unknown, or whose version differs without an upgrade function, fails
// with an error naming the kind and both versions: nothing resumes with the
// wrong state. Values sent on channels travel with a type name, so an int
// comes back an int; user types must be registered with RegisterValue.
// Errors (sent with SendErr, delivered, or in a Boxed field) keep their
// message and what errors.Is and errors.As find in their chain: sentinels
// registered with RegisterError, and errors of types registered with
// RegisterValue, at any depth (errors.go has the format).
//
// # What is saved
//
// A behavior's state is its exported fields, at every depth. Register and
// RegisterValue refuse a type that holds state a save would drop: an
// unexported field, or a func, chan, unsafe.Pointer or complex field that
// msgpack cannot encode, in the struct itself or in a nested struct, behind
// a pointer, in a slice, array or map. The error (ErrUnsavedField) names
// the field by its path, as npc.Guard.Inner.count. A field that is not part
// of the state (a cache, an output writer, scratch rebuilt from the other
// fields) is marked with the struct tag `stackless:"-"` (msgpack's own
// `msgpack:"-"` works too): it is never written, comes back zero after a
// restore, and registration accepts it. Types that encode themselves
// (MarshalMsgpack, MarshalBinary, MarshalText, as time.Time) are trusted
// with their whole state. A time.Time keeps its instant only (msgpack's
// timestamp): it comes back in the Local zone of the process that loads it,
// so Equal, Before and Sub agree after a restore, but Hour, Day and Format
// do on a machine whose zone is another; call UTC or In where the zone
// matters. An interface field (at any depth: an any, an
// error, a map[string]any) is refused too, because msgpack writes the
// value it holds without its type and reads back its generic types (5 as
// an int8, a struct as a map[string]any, an error as its message): make it
// Boxed (saved with its type), a concrete type, or tag it
// `stackless:",loose"` to take the generic types back on purpose.
//
// Pointers and maps are saved as the values they reach, so a state that
// reaches one value twice would come back with two copies of it, and a
// cycle cannot be written at all (msgpack would recurse until the stack
// overflowed). Before a save, a kind that can hold pointers, maps or
// interfaces is walked: two paths to one value, a pointer into a slice's
// elements or into the behavior itself, and a cycle are refused with
// ErrShared, naming both paths; a state nested deeper than MaxNest, which
// no load would take, with ErrTooDeep. Two slices over one array are saved
// as two copies, on purpose. A TaskletWriter (and so EncodeWorld and
// DumpWorld; its Forks, on other goroutines of the same save) also refuses
// a value that two of the tasklets it writes hold: each would be restored
// with its own copy.
//
// A scheduler whose world is saved should refuse a value it could not
// save when it is sent, not at the next checkpoint: pass CheckValue to
// scheduler.WithValueCheck (store.Checkpointer.Resume and ipc.NewNode do).
//
// # Untrusted bytes
//
// Bytes to load are untrusted. Before msgpack sees a byte, every decoder
// runs Scan, an iterative validator that bounds nesting depth and checks
// every declared length against the bytes that remain, so a hostile length
// header cannot make msgpack allocate gigabytes (msgpack v5 allocates
// whatever length a header announces before reading the bytes), then
// decodes only into registered types, after a bound on what decoding would
// allocate. Records of the common shape (no pending value, cases without
// values, a behavior whose kind has a struct plan; idle channels) are read
// without msgpack by a bounds-checked cursor that holds itself to the same
// bounds, and taken only when read to their last byte; anything else goes
// the msgpack way. DecodeWorldParallel decodes a big world on several
// goroutines. A behavior with a struct plan is written by it, byte for
// byte as msgpack would, except for the fields a DeadFielder (stackless
// gen's frames) says do not matter where it stands: those are left out,
// and read back as zero by the plan and by msgpack alike.
//
// A world is stored as a header (clock, counters, run queue, timers, the
// kinds in use) plus one record per tasklet and per channel, keyed by
// TaskletKey and ChannelKey, which is the shape package store checkpoints.
// DumpWorld packs the same into one blob for files and migration.
package pickle
