package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// batch is a generation ready to commit: its records already packed into
// segments, so the write transaction only Puts a few hundred values.
type batch struct {
	base  uint64 // 0 = full
	nanos int64
	meta  []byte
	segs  []segment
	h     genHeader // nrec, ndel, recBytes, delBytes of the segments
	bufs  [][]byte  // the segments' buffers, handed back to the pool after the commit
}

// Save stores cp as a new generation and returns its number, which it also
// sets in cp.Gen (and cp.Time if it was zero). The whole checkpoint is written
// in one bbolt transaction: after a crash at any instant, either the new
// generation is complete or the previous state is unchanged. Old generations
// beyond WithKeep are pruned in the same transaction.
func (db *DB) Save(cp *Checkpoint) (gen uint64, err error) {
	if cp == nil {
		return 0, fmt.Errorf("store: save to %s: nil checkpoint", db.path)
	}
	fail := func(format string, args ...any) (uint64, error) {
		return 0, fmt.Errorf("store: save to %s: "+format, append([]any{db.path}, args...)...)
	}
	if cp.Full() && len(cp.Deleted) > 0 {
		return fail("a full checkpoint (Base=0) cannot have Deleted keys (%d given); set Base to the generation they were deleted from", len(cp.Deleted))
	}
	if len(cp.Meta) > db.opts.maxRecord {
		return fail("Meta is %d bytes, over the %d-byte limit; raise it with store.WithMaxRecord", len(cp.Meta), db.opts.maxRecord)
	}

	// Validate and size the records.
	total := 0
	for i := range cp.Records {
		r := &cp.Records[i]
		if msg := checkKey(r.Key); msg != "" {
			return fail("record %d: %s", i, msg)
		}
		if len(r.Value) > db.opts.maxRecord {
			return fail("record %q: value is %d bytes, over the %d-byte limit; raise it with store.WithMaxRecord", r.Key, len(r.Value), db.opts.maxRecord)
		}
		total += entryHeaderSize + len(r.Key) + len(r.Value)
	}
	for i, k := range cp.Deleted {
		if msg := checkKey(k); msg != "" {
			return fail("deleted key %d: %s", i, msg)
		}
		total += entryHeaderSize + len(k)
	}
	total += (total/segmentTarget + 1) * valueHeaderSize

	dels := cp.Deleted
	if !slices.IsSortedFunc(dels, bytes.Compare) {
		dels = slices.Clone(dels)
		slices.SortFunc(dels, bytes.Compare)
	}
	for i := 1; i < len(dels); i++ {
		if bytes.Equal(dels[i-1], dels[i]) {
			return fail("duplicate deleted key %q", dels[i])
		}
	}

	w := newSegWriter(db.bufs.get(total), db.opts.maxRecord)
	defer func() { db.bufs.put(w.buf) }()
	if err := writeRecords(w, newRecordMerger(cp.Records), dels); err != nil {
		return fail("%w", err)
	}
	t := cp.Time
	if t.IsZero() {
		t = time.Now()
	}
	b := &batch{base: cp.Base, nanos: t.UnixNano(), meta: cp.Meta, segs: w.segments(nil), h: w.h}
	if gen, err = db.commit(b); err != nil {
		return 0, err
	}
	cp.Gen, cp.Time = gen, time.Unix(0, b.nanos)
	return gen, nil
}

// writeRecords packs records (in key order from m) and tombstones (sorted)
// into w, merged so keys ascend.
func writeRecords(w *segWriter, m *recordMerger, dels [][]byte) error {
	r, ok := m.next()
	for j := 0; ok || j < len(dels); {
		if j == len(dels) || (ok && bytes.Compare(r.Key, dels[j]) < 0) {
			if err := w.add(recData, r.Key, r.Value); err != nil {
				return err
			}
			r, ok = m.next()
			continue
		}
		if ok && bytes.Equal(r.Key, dels[j]) {
			return fmt.Errorf("key %q is both in Records and Deleted", dels[j])
		}
		if err := w.add(recTombstone, dels[j], nil); err != nil {
			return err
		}
		j++
	}
	return nil
}

// maxRuns is the most ascending runs recordMerger merges in place; more
// runs are sorted instead.
const maxRuns = 8

// recordMerger yields records in ascending key order without sorting input
// made of a few ascending runs (a world's channels, then its tasklets),
// and never reorders the caller's slice. Equal keys come out next to each
// other, where the segment writer rejects them.
type recordMerger struct {
	runs [][]Record
}

func newRecordMerger(recs []Record) *recordMerger {
	m := &recordMerger{}
	start := 0
	for i := 1; i < len(recs); i++ {
		if bytes.Compare(recs[i-1].Key, recs[i].Key) > 0 {
			m.runs = append(m.runs, recs[start:i])
			start = i
			if len(m.runs) == maxRuns {
				sorted := slices.Clone(recs)
				slices.SortFunc(sorted, func(a, b Record) int { return bytes.Compare(a.Key, b.Key) })
				return &recordMerger{runs: [][]Record{sorted}}
			}
		}
	}
	if start < len(recs) {
		m.runs = append(m.runs, recs[start:])
	}
	return m
}

func (m *recordMerger) next() (Record, bool) {
	win := -1
	for i, r := range m.runs {
		if len(r) > 0 && (win < 0 || bytes.Compare(r[0].Key, m.runs[win][0].Key) < 0) {
			win = i
		}
	}
	if win < 0 {
		return Record{}, false
	}
	r := m.runs[win][0]
	m.runs[win] = m.runs[win][1:]
	return r, true
}

// commit writes b as a new generation in one bbolt transaction and prunes
// what falls out of retention.
func (db *DB) commit(b *batch) (gen uint64, err error) {
	h := b.h
	h.base, h.nanos, h.metaLen = b.base, b.nanos, uint64(len(b.meta))
	err = db.update("saving a generation", func(tx *bolt.Tx) error {
		gens, metaB := tx.Bucket(bucketGens), tx.Bucket(bucketMeta)
		if b.base != 0 {
			if _, err := db.header(gens, b.base); err != nil {
				if errors.Is(err, ErrNotFound) {
					return fmt.Errorf("store: save to %s: base generation %d: %w (pruned or deleted?); save a full checkpoint (Base=0) instead",
						db.path, b.base, ErrNotFound)
				}
				return err
			}
		}
		seq, err := gens.NextSequence()
		if err != nil {
			return err
		}
		if k, _ := gens.Cursor().Last(); len(k) == 8 {
			if last := binary.BigEndian.Uint64(k); last >= seq {
				seq = last + 1
				if err := gens.SetSequence(seq); err != nil {
					return err
				}
			}
		}
		gen = seq
		if b.base >= gen {
			return fmt.Errorf("store: save to %s: base generation %d is not older than the new generation %d", db.path, b.base, gen)
		}
		name := genBucket(gen)
		if tx.Bucket(name) != nil { // leftover from a damaged database; never referenced
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		bk, err := tx.CreateBucket(name)
		if err != nil {
			return err
		}
		bk.FillPercent = 1 // keys only ever append at the right edge
		for _, s := range b.segs {
			if err := bk.Put(s.key, s.value); err != nil {
				return fmt.Errorf("store: save to %s: put the segment from %q: %w", db.path, s.key, err)
			}
		}
		gk := genKey(gen)
		if err := metaB.Put(gk, encodeValue(gk, recMeta, b.meta)); err != nil {
			return err
		}
		if err := gens.Put(gk, encodeValue(gk, recGenHeader, h.marshal())); err != nil {
			return err
		}
		return db.prune(tx)
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "store: ") {
			return 0, err
		}
		return 0, fmt.Errorf("store: save to %s: %w", db.path, err)
	}
	return gen, nil
}

// bufPool keeps a few segment buffers between checkpoints, so a steady
// stream of checkpoints does not allocate (and the GC does not clear) the
// world's size in bytes every time.
type bufPool struct {
	mu   sync.Mutex
	free [][]byte
}

const keptBufs = 4

// get returns an empty buffer, with at least n bytes of capacity if a kept
// one is that large.
func (p *bufPool) get(n int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i, b := range p.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]byte, 0, n)
	}
	b := p.free[best]
	p.free = slices.Delete(p.free, best, best+1)
	return b[:0]
}

func (p *bufPool) put(b []byte) {
	if cap(b) == 0 || cap(b) > maxKeptArena {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < keptBufs {
		p.free = append(p.free, b)
		return
	}
	// Keep the larger buffers: they fit the next world without growing.
	small := 0
	for i, f := range p.free {
		if cap(f) < cap(p.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(p.free[small]) {
		p.free[small] = b
	}
}
