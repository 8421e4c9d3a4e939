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
//
// Bytes to load are untrusted. Every decoder first runs Scan, an iterative
// validator that bounds nesting depth and checks every declared length
// against the bytes that remain, so a hostile length header cannot make
// msgpack allocate gigabytes (reference/persistence-ipc.md §3.3), then
// decodes only into registered types.
//
// A world is stored as a header (clock, counters, run queue, timers, the
// kinds in use) plus one record per tasklet and per channel, keyed by
// TaskletKey and ChannelKey, which is the shape package store checkpoints.
// DumpWorld packs the same into one blob for files and migration.
package pickle
