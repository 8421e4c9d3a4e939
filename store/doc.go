// Package store makes scheduler worlds durable: checkpoints in an embedded
// bbolt file, and plain snapshot files.
//
// The byte layer (DB, Checkpoint, WriteFile, ReadFile) knows files and
// transactions, not what records mean. A checkpoint is one generation: a
// header and keyed records, written in a single bbolt transaction (group
// commit), so a crash at any instant leaves the previous generation intact.
// An incremental generation holds only the records that changed since its
// base; Load resolves the chain. Every stored value carries a CRC32C and is
// verified before it is returned. Generations are numbered; the newest K
// are kept with the bases they need.
//
// The world layer (Checkpointer, Restore, SaveFile, LoadFile) connects a
// scheduler to a DB through package pickle: Checkpointer.Resume restores the
// newest generation or starts fresh, and checkpoints automatically every N
// steps or every interval, writing full checkpoints now and then and
// incremental ones in between from the scheduler's change tracking.
//
// bbolt holds an exclusive lock on its file: one process per DB. Open waits
// WithTimeout for it and then fails with ErrLocked.
package store
