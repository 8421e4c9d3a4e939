package store

import (
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// Checkpointer writes checkpoints of one scheduler into a DB: a full one
// first, then incremental ones holding only the tasklets and channels that
// changed (the scheduler tracks them), with a full one every so often so
// chains stay short. It continues the generation chain of a DB it resumed.
type Checkpointer struct {
	db        *DB
	reg       *pickle.Registry
	fullEvery int
	every     uint64
	interval  time.Duration
	async     bool

	sinceFull   int     // incremental checkpoints since the last full one
	resumed     uint64  // generation the scheduler was restored from
	damaged     []error // newer generations Resume passed over (see Damaged)
	sizeHint    int     // bytes of the last full checkpoint's segments
	changesHint int     // bytes of the last incremental one's, and an eighth

	mu        sync.Mutex
	closed    bool   // Close was called
	last      uint64 // last generation written
	lastErr   error  // first failure of a background write
	forceFull bool   // a write failed: its changes are gone, so the next checkpoint must be full
	chained   bool   // the DB held a generation, or a full checkpoint was taken: the next may build on it
	broken    bool   // a write failed since the last full one stored: queued increments have no base
	queue     chan job
	done      chan struct{}

	journal *Journal     // trimmed after each checkpoint (WithJournal)
	held    []journalRef // entries the newest stored generation is past: trimmed once a newer one is stored
}

// CheckpointOption configures a Checkpointer.
type CheckpointOption func(*Checkpointer)

// WithFullEvery makes every n-th checkpoint a full one (default 16; 1 makes
// every checkpoint full).
func WithFullEvery(n int) CheckpointOption {
	return func(c *Checkpointer) { c.fullEvery = max(n, 1) }
}

// WithEvery checkpoints automatically every n steps of a scheduler made by
// Resume.
func WithEvery(n uint64) CheckpointOption { return func(c *Checkpointer) { c.every = n } }

// WithInterval checkpoints automatically every d of wall time.
func WithInterval(d time.Duration) CheckpointOption { return func(c *Checkpointer) { c.interval = d } }

// WithAsync writes checkpoints on a background goroutine: the scheduler only
// pays for encoding (a snapshot is a copy), the disk write overlaps the next
// steps. At most two checkpoints wait; a third blocks until one is written.
// Close the Checkpointer before the DB: Close waits for the queued writes
// and returns their first error.
func WithAsync() CheckpointOption { return func(c *Checkpointer) { c.async = true } }

// WithJournal trims j after each checkpoint: an entry whose tasklet a
// checkpoint shows past the step that made the call (or ended) is deleted
// once the checkpoint after it is stored. A restore from either never asks
// for that call again, and one checkpoint late keeps the fallback exact:
// when Resume passes over a damaged newest generation, the journal still
// answers the calls made after the one it restores. Restart empties j.
// Pass the same journal to the scheduler (scheduler.EffectConfig.Journal).
func WithJournal(j *Journal) CheckpointOption { return func(c *Checkpointer) { c.journal = j } }

// NewCheckpointer returns a checkpointer writing into db with the kinds of reg.
func NewCheckpointer(db *DB, reg *pickle.Registry, opts ...CheckpointOption) *Checkpointer {
	c := &Checkpointer{db: db, reg: reg, fullEvery: 16}
	for _, o := range opts {
		o(c)
	}
	if latest, err := db.Latest(); err == nil {
		c.last = latest
		c.chained = latest != 0
	}
	if c.async {
		c.queue = make(chan job, 2)
		c.done = make(chan struct{})
		go c.writer()
	}
	return c
}

// Last is the newest generation written (or, with WithAsync, queued and
// since written).
func (c *Checkpointer) Last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Checkpoint encodes the scheduler's state now and writes it: a full
// checkpoint when the chain needs one or the scheduler does not track
// changes, else only what changed since the previous checkpoint. Call it
// between steps (scheduler.WithCheckpoint does).
func (c *Checkpointer) Checkpoint(s *scheduler.Scheduler) error {
	if err := c.err(); err != nil {
		// Not this checkpoint's error: gameai's "autosave at tick 200: no
		// space left" was its save of tick 100, which never reached the file.
		return fmt.Errorf("store: an earlier checkpoint, written in the background, failed, and none is taken after it: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("store: checkpoint into %s: %w", c.db.Path(), ErrCheckpointerClosed)
	}
	// Not "nothing written yet": with WithAsync a game's first full save
	// of a million entities took longer to write than the game took to
	// its next save, which was full again, and the next: every save of the
	// session was full (950 MB each) where an increment was 12 MB.
	full := !s.Tracking() || !c.chained || c.forceFull || c.sinceFull+1 >= c.fullEvery
	c.forceFull = false
	c.mu.Unlock()
	var passed []journalRef
	if c.journal != nil {
		passed = c.journal.passed(s)
	}
	var b *batch
	var err error
	if full {
		if s.Tracking() {
			s.TakeChanges()
		}
		b, err = c.encodeWorld(s.View())
		c.sinceFull = 0
		if err == nil {
			c.mu.Lock()
			c.chained = true
			c.mu.Unlock()
		}
	} else {
		b, err = c.encodeChanges(s)
		if err == nil {
			b.base = 1 // resolved to the previous generation when written
		}
		c.sinceFull++
	}
	if err != nil {
		// The changes taken for this checkpoint are gone with it: only a
		// full checkpoint can save them now.
		c.mu.Lock()
		c.forceFull = true
		c.mu.Unlock()
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	if c.async {
		c.queue <- job{b: b, trim: passed}
		return nil
	}
	if err := c.write(b); err != nil {
		return err
	}
	return c.trim(passed)
}

// trim is called once a checkpoint is stored, with the journal entries its
// tasklets are past; it deletes those the checkpoint before it was past.
func (c *Checkpointer) trim(passed []journalRef) error {
	if c.journal == nil {
		return nil
	}
	c.mu.Lock()
	passed, c.held = c.held, passed
	c.mu.Unlock()
	if err := c.journal.trim(passed); err != nil {
		return fmt.Errorf("store: checkpoint stored, but trimming its effect journal failed: %w", err)
	}
	return nil
}

func (c *Checkpointer) write(b *batch) error {
	c.mu.Lock()
	if b.base != 0 && c.broken {
		// Its base is the checkpoint whose write failed: stored on the
		// one before, it would load as a world missing those changes.
		c.mu.Unlock()
		c.release(b)
		return fmt.Errorf("store: checkpoint into %s: not written: it holds only the changes since a checkpoint whose write failed", c.db.Path())
	}
	if b.base != 0 {
		b.base = c.last
	}
	c.mu.Unlock()
	gen, err := c.commit(b)
	full := b.base == 0
	c.release(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.forceFull, c.broken = true, true
		err = fmt.Errorf("store: checkpoint into %s: %w", c.db.Path(), err)
		if c.async && c.lastErr == nil {
			c.lastErr = err // reported by the next Checkpoint and by Close
		}
		return err
	}
	c.last = gen
	if full {
		c.broken = false
	}
	return nil
}

// commitFault, set by tests, runs before each checkpoint's commit (full
// or not) and fails it with what it returns.
var commitFault func(full bool) error

func (c *Checkpointer) commit(b *batch) (uint64, error) {
	if commitFault != nil {
		if err := commitFault(b.base == 0); err != nil {
			return 0, err
		}
	}
	return c.db.commit(b)
}

// job is a checkpoint to write, or a flush to acknowledge once everything
// queued before it is written.
type job struct {
	b       *batch
	flushed chan struct{}
	trim    []journalRef // journal entries b's tasklets are past (see Checkpointer.trim)
}

func (c *Checkpointer) writer() {
	defer close(c.done)
	for j := range c.queue {
		if j.flushed != nil {
			close(j.flushed)
			continue
		}
		if c.write(j.b) == nil {
			if err := c.trim(j.trim); err != nil {
				c.mu.Lock()
				if c.lastErr == nil {
					c.lastErr = err
				}
				c.mu.Unlock()
			}
		}
	}
}

func (c *Checkpointer) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Close waits for queued checkpoints to be written and returns the first
// write error; later Checkpoint calls fail with ErrCheckpointerClosed. It
// does not close the DB: call it before DB.Close. It is needed with
// WithAsync (without it, queued checkpoints may never reach the file and
// their errors go unseen) and harmless without: call it always. Close
// takes no checkpoint of its own.
func (c *Checkpointer) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if c.async && c.queue != nil {
		close(c.queue)
		<-c.done
		c.queue = nil
	}
	return c.err()
}

func toRecords(recs []pickle.Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{Key: r.Key, Value: r.Value}
	}
	return out
}

func fromRecords(recs []Record) []pickle.Record {
	out := make([]pickle.Record, len(recs))
	for i, r := range recs {
		out[i] = pickle.Record{Key: r.Key, Value: r.Value}
	}
	return out
}

// Flush waits until every queued checkpoint is written (WithAsync).
func (c *Checkpointer) Flush() error {
	if c.async && c.queue != nil {
		j := job{flushed: make(chan struct{})}
		c.queue <- j
		<-j.flushed
	}
	return c.err()
}

// LoadWorld decodes generation gen (0: the newest) of db. A big world is
// decoded on two goroutines, so reg's upgrade functions (pickle.Upgrade)
// may run concurrently.
func LoadWorld(db *DB, reg *pickle.Registry, gen uint64) (*scheduler.World, uint64, error) {
	if gen == 0 {
		var err error
		if gen, err = db.Latest(); err != nil {
			return nil, 0, err
		}
	}
	// The records are decoded where bbolt maps them, within the read
	// transaction (pickle copies what it keeps): no copy of the world. A
	// memory fault while decoding is the file's damage (the guard reports
	// it); any other panic (an upgrade function's) goes on to the caller
	// as it did when decoding came after the transaction.
	var w *scheduler.World
	var decodeErr error
	var decodePanic any
	err := db.view(fmt.Sprintf("reading generation %d", gen), func(tx *bolt.Tx) error {
		cp, recs, err := loadRecords[pickle.Record](db, tx, gen, false)
		if err != nil {
			return err
		}
		defer func() {
			if p := recover(); p != nil {
				if _, fault := p.(interface{ Addr() uintptr }); fault {
					panic(p)
				}
				decodePanic = p
			}
		}()
		w, decodeErr = decodeWorld(reg, cp.Meta, recs)
		return nil
	})
	if decodePanic != nil {
		panic(decodePanic)
	}
	if err != nil {
		return nil, gen, err
	}
	if decodeErr != nil {
		return nil, gen, fmt.Errorf("store: generation %d of %s: %w", gen, db.Path(), decodeErr)
	}
	return w, gen, nil
}

// Restore builds a scheduler from generation gen (0: the newest) of db.
func Restore(db *DB, reg *pickle.Registry, gen uint64, opts ...scheduler.Option) (*scheduler.Scheduler, error) {
	w, gen, err := LoadWorld(db, reg, gen)
	if err != nil {
		return nil, err
	}
	s, err := scheduler.Restore(w, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: generation %d of %s: %w", gen, db.Path(), err)
	}
	return s, nil
}

// SaveFile writes the scheduler's whole state as a snapshot file.
func SaveFile(path string, reg *pickle.Registry, s *scheduler.Scheduler) error {
	meta, recs, err := reg.EncodeWorld(s.World())
	if err != nil {
		return err
	}
	return WriteFile(path, &Checkpoint{Meta: meta, Records: toRecords(recs), Time: time.Now()})
}

// LoadFile decodes the world of a snapshot file.
func LoadFile(path string, reg *pickle.Registry) (*scheduler.World, error) {
	cp, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := reg.DecodeWorld(cp.Meta, fromRecords(cp.Records))
	if err != nil {
		return nil, fmt.Errorf("store: snapshot %s: %w", path, err)
	}
	return w, nil
}
