// Package store makes scheduler worlds durable: checkpoints in an embedded
// bbolt file, and plain snapshot files.
//
// The byte layer (DB, Checkpoint, WriteFile, ReadFile) knows files and
// transactions, not what records mean. A checkpoint is one generation: a
// header and keyed records, written in a single bbolt transaction (group
// commit), so a crash at any instant leaves the previous generation intact.
// The records are packed in key order into segments of about 7 KiB, one
// bbolt value each (two fill a page), so a checkpoint of 100,000 records is
// one to two thousand bbolt writes, not 100,000. An incremental generation
// holds only the records that changed since its base and a tombstone for
// each deleted key; Load resolves the chain by key. Walk resolves it the
// same way but hands the records over one by one, still in the mapped
// file, so a reader of a huge generation (inspect) never holds all of it.
// Every stored value (segment, generation header, meta) carries a CRC32C
// over its key and bytes, verified before anything in it is decoded;
// record values and Meta are capped by WithMaxRecord. Generations are
// numbered; the newest K are kept with the bases they need. A database of
// another format version (version 1 stored one value per record) is
// refused with ErrVersion.
//
// The world layer (Checkpointer, Restore, SaveFile, LoadFile) connects a
// scheduler to a DB through package pickle: Checkpointer.Resume restores the
// newest generation or starts fresh, and checkpoints automatically every N
// steps or every interval, writing full checkpoints now and then and
// incremental ones in between from the scheduler's change tracking. A big
// world is encoded straight into segments on two goroutines; a restore
// decodes the records where bbolt maps them, inside the read transaction,
// on two goroutines, without copying them out first.
//
// A run's life on one DB: Resume says which of three cases a start is. On
// an empty DB it runs init (Resumed is 0); else it restores the newest
// generation (Resumed is its number); but when that generation holds no
// tasklet, the run it saved had finished, and Resume returns ErrFinished
// rather than an empty world: Restore reads what the run left, Restart
// starts over. Run (and RunBudget, Tick) returning takes no checkpoint, so
// the newest one stays the last automatic one, and the work after it runs
// again on the next Resume; call Checkpoint after Run to store the end
// state (the progress of an interrupted run, or the finished world). Close
// the Checkpointer before its DB: with WithAsync, Close waits for queued
// checkpoints and reports their errors; without, it only makes later
// Checkpoint calls fail.
//
// No file, however damaged, crashes a reader. Before bbolt maps an existing
// file, Open checks its meta pages against each other and against the file
// size, the freelist page, and walks the page tree once (a page reached
// twice, as in a loop, would send bbolt round for ever), and refuses what
// bbolt would fault, panic or loop on (ErrCorrupt); every bbolt call then
// runs under a guard that turns a panic or a memory fault on a damaged page
// into an error naming the file and what to do. An existing file that is
// not a database (empty, a snapshot, anything else) is refused with
// ErrNotDatabase, never taken for "no checkpoint yet" and overwritten; a
// new database appears at its path only once laid out, so a crash cannot
// leave an empty one. MoveAside puts a refused file aside under a
// timestamped name. WithReadOnly opens for reading only, without the
// freelist, so a damaged freelist does not stop inspect and export.
//
// Open creates a missing folder (0700) for a new DB. bbolt locks its file
// exclusively, so one process per DB, or, WithReadOnly, shared: several
// readers, no writer. Open waits WithTimeout for the lock and then fails
// with ErrLocked.
package store
