package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Journal is the effect journal of a checkpoint database: each effect's
// result is written to the database before the tasklet that asked sees it,
// so a scheduler restored from a checkpoint and run again gets the results
// of the calls it repeats from here instead of running them again (see
// scheduler.Journal). Records are group-committed: one bbolt transaction
// (one fsync) takes every result that arrived while the previous one was
// being written. A checkpoint trims the entries it makes unnecessary (see
// WithJournal).
//
// Entries are stored in the bucket "journal" under a sequence number, so
// every commit appends at the end of the B+tree instead of rewriting pages
// all over it; the value holds a checksum, the effect key (tasklet, step,
// case) and the result (effect name, error text and pickled error, the
// response as a pickled value, after the request, as the call's own). An
// index from effect key to sequence, read when the journal is opened,
// answers the lookups of calls never journaled without touching the file.
type Journal struct {
	db  *DB
	reg *pickle.Registry

	mu      sync.Mutex
	pending []journalEntry // waiting for the next commit
	index   map[scheduler.EffectKey]uint64
	seq     uint64 // last sequence used (committer goroutine, and open)
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	stats   JournalStats
}

// JournalStats counts a journal's work since it was opened.
type JournalStats struct {
	Records int // results made durable
	Commits int // transactions that made them durable
	Hits    int // lookups answered from the journal
	Trimmed int // entries deleted by checkpoints
	Dropped int // damaged entries deleted when the journal was opened
}

type journalEntry struct {
	key  scheduler.EffectKey
	val  []byte // without its checksum, which depends on the sequence
	err  error  // encoding failed: reported to done, nothing written
	done func(error)
}

var bucketJournal = []byte("journal")

// ErrJournalClosed is returned by a journal used after Close.
var ErrJournalClosed = errors.New("store: the effect journal is closed")

// OpenJournal returns the effect journal of db; reg encodes the effects'
// responses (register their types with pickle.RegisterValue). Close it
// before db.
func OpenJournal(db *DB, reg *pickle.Registry) (*Journal, error) {
	if db.opts.readOnly {
		return nil, fmt.Errorf("store: open the effect journal of %s: the database was opened read-only; open it without store.WithReadOnly", db.path)
	}
	j := &Journal{db: db, reg: reg, kick: make(chan struct{}, 1), done: make(chan struct{}),
		index: map[scheduler.EffectKey]uint64{}}
	err := db.update("opening the effect journal", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketJournal)
		if err != nil {
			return err
		}
		var bad [][]byte
		err = b.ForEach(func(k, v []byte) error {
			key, ok := entryKey(k, v)
			if !ok {
				bad = append(bad, append([]byte(nil), k...))
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			j.seq = max(j.seq, seq)
			if old, dup := j.index[key]; dup { // recorded again after a divergence: the newer wins
				bad = append(bad, seqKey(min(old, seq)))
				seq = max(old, seq)
			}
			j.index[key] = seq
			return nil
		})
		if err != nil {
			return err
		}
		// An entry whose key cannot be read is useless: no lookup can
		// reach it. Its call runs again, as it would without a journal.
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		j.stats.Dropped = len(bad)
		return nil
	})
	if err != nil {
		return nil, err
	}
	go j.committer()
	return j, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func appendEffectKey(b []byte, k scheduler.EffectKey) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(k.Tasklet))
	b = binary.BigEndian.AppendUint64(b, k.Step)
	return binary.BigEndian.AppendUint32(b, uint32(int32(k.Case)))
}

// entryKey reads the effect key of an entry, checksum included; ok is
// false for a damaged entry.
func entryKey(k, v []byte) (scheduler.EffectKey, bool) {
	if len(k) != 8 || len(v) < 4+1+20 || !knownFormat(v[4]) ||
		crc32.Update(crc32c(k), castagnoli, v[4:]) != binary.BigEndian.Uint32(v) {
		return scheduler.EffectKey{}, false
	}
	e := v[5:25]
	return scheduler.EffectKey{Tasklet: tasklet.ID(binary.BigEndian.Uint64(e)), Step: binary.BigEndian.Uint64(e[8:]),
		Case: int(int32(binary.BigEndian.Uint32(e[16:])))}, true
}

// Lookup returns the journaled result of key. An entry found damaged here
// is an error (the scheduler then does not run the call: it cannot know
// whether it ran); one found damaged when the journal was opened was
// dropped (its key cannot be trusted), and its call runs again.
func (j *Journal) Lookup(key scheduler.EffectKey) (scheduler.EffectResult, bool, error) {
	j.mu.Lock()
	seq, ok := j.index[key]
	j.mu.Unlock()
	if !ok {
		return scheduler.EffectResult{}, false, nil
	}
	k := seqKey(seq)
	var raw []byte
	err := j.db.view("reading the effect journal", func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketJournal); b != nil {
			if v := b.Get(k); v != nil {
				raw = append([]byte(nil), v...)
			}
		}
		return nil
	})
	if err != nil || raw == nil {
		return scheduler.EffectResult{}, false, err
	}
	res, got, err := decodeJournal(j.reg, k, raw)
	if err == nil && got != key {
		err = fmt.Errorf("the entry is of effect key %v", got)
	}
	if err != nil {
		return scheduler.EffectResult{}, false, &CorruptError{Path: j.db.path, Key: k, What: "effect journal entry", Offset: -1,
			Reason: fmt.Sprintf("%v (effect key %v); delete the database's journal bucket only if the effect may run again", err, key)}
	}
	j.mu.Lock()
	j.stats.Hits++
	j.mu.Unlock()
	return res, true, nil
}

// Record queues the result of key for the next group commit and calls
// done once it is durable (or with the error that kept it from the disk).
func (j *Journal) Record(key scheduler.EffectKey, res scheduler.EffectResult, done func(error)) {
	v, err := encodeJournal(j.reg, key, res)
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		done(fmt.Errorf("record effect %v: %w", key, ErrJournalClosed))
		return
	}
	j.pending = append(j.pending, journalEntry{key: key, val: v, err: err, done: done})
	// Kick under the lock, so no kick comes after Close marked the
	// journal closed: the committer may be gone by then, and a kick left
	// in the one-slot channel made Close's own wait forever.
	j.kickCommitter()
	j.mu.Unlock()
}

// kickCommitter wakes the committer without blocking; a kick already
// waiting in the channel wakes it as well. Called with j.mu held.
func (j *Journal) kickCommitter() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// committer writes what is pending, one transaction per round.
func (j *Journal) committer() {
	defer close(j.done)
	var batch []journalEntry
	for range j.kick {
		j.mu.Lock()
		batch, j.pending = j.pending, batch[:0]
		closed := j.closed
		j.mu.Unlock()
		if len(batch) > 0 {
			j.commit(batch)
			clear(batch)
		}
		if closed {
			return
		}
	}
}

func (j *Journal) commit(batch []journalEntry) {
	n := 0
	seq := j.seq
	err := j.db.update("writing the effect journal", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJournal)
		if b == nil {
			return fmt.Errorf("the journal bucket is gone")
		}
		b.FillPercent = 1 // appends only: full pages
		seq = j.seq
		n = 0
		for _, e := range batch {
			if e.err != nil {
				continue
			}
			seq++
			k := seqKey(seq)
			if err := b.Put(k, sealJournal(k, e.val)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: effect journal in %s: %w", j.db.path, err)
	} else {
		first := j.seq
		j.seq = seq
		j.mu.Lock()
		for _, e := range batch {
			if e.err == nil {
				first++
				j.index[e.key] = first // a newer result of a key replaces the older; trim removes that one
			}
		}
		j.stats.Records += n
		j.stats.Commits++
		j.mu.Unlock()
	}
	for _, e := range batch {
		switch {
		case e.err != nil:
			e.done(fmt.Errorf("store: effect journal: the result cannot be encoded: %w", e.err))
		default:
			e.done(err)
		}
	}
}

// Close writes what is pending, then stops the journal; later records fail
// with ErrJournalClosed. Close the journal before its DB.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.kickCommitter() // the committer sees closed after its next kick: this one, or one waiting
	j.mu.Unlock()
	<-j.done
	return nil
}

// Stats returns the journal's counters.
func (j *Journal) Stats() JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// Len is the number of entries in the journal on disk.
func (j *Journal) Len() (int, error) {
	n := 0
	err := j.db.view("reading the effect journal", func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketJournal); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// passed lists the entries a checkpoint of s makes unnecessary: those whose
// tasklet is past the step that made the call, or ended (see
// scheduler.EffectPassed). It runs on the scheduler's goroutine, between
// steps, and reads only the index.
func (j *Journal) passed(s *scheduler.Scheduler) []journalRef {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []journalRef
	for key, seq := range j.index {
		if s.EffectPassed(key) {
			out = append(out, journalRef{key, seq})
		}
	}
	return out
}

type journalRef struct {
	key scheduler.EffectKey
	seq uint64
}

// trim deletes entries listed by passed, once the checkpoint that made
// them unnecessary is stored; with them go entries a newer result of the
// same key replaced.
func (j *Journal) trim(refs []journalRef) error {
	if len(refs) == 0 {
		return nil
	}
	n := 0
	err := j.db.update("trimming the effect journal", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJournal)
		if b == nil {
			return nil
		}
		n = 0
		for _, r := range refs {
			k := seqKey(r.seq)
			if b.Get(k) == nil {
				continue // trimmed already (listed by two checkpoints)
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		j.mu.Lock()
		for _, r := range refs {
			if j.index[r.key] == r.seq {
				delete(j.index, r.key)
			}
		}
		j.stats.Trimmed += n
		j.mu.Unlock()
	}
	return err
}

// clear deletes every entry, for a run that starts over (Restart). An
// entry committed after it (a call of the old run still in flight) would
// answer the new run: the old run must be stopped.
func (j *Journal) clear() error {
	err := j.db.update("emptying the effect journal", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketJournal) != nil {
			if err := tx.DeleteBucket(bucketJournal); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucket(bucketJournal)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: empty the effect journal of %s: %w", j.db.path, err)
	}
	j.mu.Lock()
	j.stats.Trimmed += len(j.index)
	clear(j.index)
	j.mu.Unlock()
	return nil
}

// The value of an entry: 4 bytes CRC-32C of the bucket key (the sequence)
// and the rest, the format byte, the effect key (20 bytes), the
// uvarint-prefixed effect name, error text, (format 2) pickled error and
// pickled request, and the response as a pickled value (the rest).
// Format 1, written until 6 December 2026, has no pickled error: its
// entries still load, their errors as text.
const journalFormat = 2

// knownFormat reports whether an entry's format byte is one this build reads.
func knownFormat(f byte) bool { return f == 1 || f == journalFormat }

// encodeJournal encodes an entry with room for its checksum, which commit
// fills in once the entry has its sequence.
func encodeJournal(reg *pickle.Registry, key scheduler.EffectKey, res scheduler.EffectResult) ([]byte, error) {
	b := make([]byte, 4, 48+len(res.Effect)+len(res.Err))
	b = append(b, journalFormat)
	b = appendEffectKey(b, key)
	b = binary.AppendUvarint(b, uint64(len(res.Effect)))
	b = append(b, res.Effect...)
	b = binary.AppendUvarint(b, uint64(len(res.Err)))
	b = append(b, res.Err...)
	var cause []byte
	if res.Err != "" && res.Cause != nil {
		var err error
		if cause, err = reg.AppendError(nil, res.Cause); err != nil {
			// The text is what the replay needs most: keep it alone
			// rather than lose the entry, and the call's exactly-once.
			cause = nil
		}
	}
	b = binary.AppendUvarint(b, uint64(len(cause)))
	b = append(b, cause...)
	req, err := reg.AppendValue(nil, res.Req)
	if err != nil {
		return nil, fmt.Errorf("request of effect %q: %w", res.Effect, err)
	}
	b = binary.AppendUvarint(b, uint64(len(req)))
	b = append(b, req...)
	b, err = reg.AppendValue(b, res.Resp)
	if err != nil {
		return nil, fmt.Errorf("response of effect %q: %w", res.Effect, err)
	}
	return b, nil
}

// sealJournal sets the checksum of an entry stored under bucket key k.
func sealJournal(k, v []byte) []byte {
	binary.BigEndian.PutUint32(v, crc32.Update(crc32c(k), castagnoli, v[4:]))
	return v
}

// maxJournalString bounds the name and error text of an entry.
const maxJournalString = 1 << 20

// decodeJournal decodes an entry read from the database under bucket key
// k: untrusted bytes, checked before anything is decoded.
func decodeJournal(reg *pickle.Registry, k, b []byte) (scheduler.EffectResult, scheduler.EffectKey, error) {
	var res scheduler.EffectResult
	if len(b) < 5+20 {
		return res, scheduler.EffectKey{}, fmt.Errorf("entry of %d bytes is too short", len(b))
	}
	if h := crc32.Update(crc32c(k), castagnoli, b[4:]); h != binary.BigEndian.Uint32(b) {
		return res, scheduler.EffectKey{}, errors.New("checksum mismatch")
	}
	if !knownFormat(b[4]) {
		return res, scheduler.EffectKey{}, fmt.Errorf("entry format %d; this build reads formats 1 and %d", b[4], journalFormat)
	}
	key, _ := entryKey(k, b)
	rest := b[25:]
	str := func(what string) (string, error) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > maxJournalString || n > uint64(len(rest)-w) {
			return "", fmt.Errorf("bad length of the %s", what)
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, nil
	}
	var err error
	if res.Effect, err = str("effect name"); err != nil {
		return res, key, err
	}
	if res.Effect == "" {
		return res, key, errors.New("the entry names no effect")
	}
	if res.Err, err = str("error text"); err != nil {
		return res, key, err
	}
	if b[4] >= 2 {
		cause, err := str("error")
		if err != nil {
			return res, key, err
		}
		if cause != "" && res.Err == "" {
			return res, key, errors.New("an error without its text")
		}
		if cause != "" {
			if res.Cause, err = reg.LoadError([]byte(cause)); err != nil {
				return res, key, fmt.Errorf("error: %w", err)
			}
		}
	}
	req, err := str("request")
	if err != nil {
		return res, key, err
	}
	if res.Req, err = reg.LoadValue([]byte(req)); err != nil {
		return res, key, fmt.Errorf("request: %w", err)
	}
	if res.Resp, err = reg.LoadValue(rest); err != nil {
		return res, key, fmt.Errorf("response: %w", err)
	}
	return res, key, nil
}

// EncodeJournalEntry encodes the journal entry of key and res in this
// journal's format, sealed (checksummed) for the storage key k, so that
// another store of entries (the cluster's journal on NATS) keeps them in
// the same format; DecodeJournalEntry reads one back.
func EncodeJournalEntry(reg *pickle.Registry, k []byte, key scheduler.EffectKey, res scheduler.EffectResult) ([]byte, error) {
	v, err := encodeJournal(reg, key, res)
	if err != nil {
		return nil, err
	}
	return sealJournal(k, v), nil
}

// DecodeJournalEntry decodes an entry stored under k (untrusted bytes:
// checksum, format and lengths are checked before anything is decoded)
// and returns its result and the effect key it holds.
func DecodeJournalEntry(reg *pickle.Registry, k, b []byte) (scheduler.EffectResult, scheduler.EffectKey, error) {
	return decodeJournal(reg, k, b)
}
