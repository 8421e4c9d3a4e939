package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

func compareRecords(a, b Record) int { return bytes.Compare(a.Key, b.Key) }

// Load returns generation gen as a resolved full checkpoint: its base chain
// applied (newest record wins, deleted keys removed), Base 0, Records sorted
// by key. Every checksum of every generation in the chain is verified first;
// damage is reported as a *CorruptError (errors.Is(err, ErrCorrupt)).
// The returned slices are owned by the caller.
func (db *DB) Load(gen uint64) (*Checkpoint, error) {
	var cp *Checkpoint
	err := db.view(fmt.Sprintf("reading generation %d", gen), func(tx *bolt.Tx) error {
		var err error
		var recs []Record
		if cp, recs, err = loadRecords[Record](db, tx, gen, true); err == nil {
			cp.Records = recs
		}
		return err
	})
	return cp, err
}

// Walk reads generation gen as Load does (its base chain applied, records
// in key order, every checksum verified) without ever holding all of it:
// start gets the checkpoint with everything but its Records, then fn each
// record in turn. key and value point into the mapped file and are valid
// only during fn: copy what you keep. Unlike Load, damage is found as the
// walk reaches it, so fn may have seen the records before it when Walk
// returns the *CorruptError. An error of start or fn stops the walk and is
// returned as is; a panic in them (not a fault reading the file) goes on to
// the caller. The read transaction lasts the whole walk.
func (db *DB) Walk(gen uint64, start func(*Checkpoint) error, fn func(key, value []byte) error) error {
	var callerPanic any
	// Only the callbacks' panics are theirs: a fault touching the mapped
	// file is its damage, which the guard reports. Deferred straight from
	// each callback's wrapper, so that recover sees the panic.
	catch := func(err *error) {
		if p := recover(); p != nil {
			if _, fault := p.(interface{ Addr() uintptr }); fault {
				panic(p)
			}
			callerPanic, *err = p, errWalkPanicked
		}
	}
	err := db.view(fmt.Sprintf("reading generation %d", gen), func(tx *bolt.Tx) error {
		return walkRecords(db, tx, gen,
			func(cp *Checkpoint, _, _ uint64) (err error) {
				defer catch(&err)
				return start(cp)
			},
			func(k, v []byte) (err error) {
				defer catch(&err)
				return fn(k, v)
			})
	})
	if callerPanic != nil {
		panic(callerPanic)
	}
	return err
}

// errWalkPanicked stops a walk whose callback panicked; Walk re-panics.
var errWalkPanicked = errors.New("store: a Walk callback panicked")

// genCursor walks the entries of one generation of a chain, segment by
// segment, verifying each segment's checksum before reading it.
type genCursor struct {
	db   *DB
	gen  uint64
	h    genHeader
	full bool // the base of the chain: no tombstones allowed

	c      *bolt.Cursor
	segKey []byte // bbolt key of the current segment
	r      segReader

	typ        recType // the current entry; k is nil at the end
	k, v       []byte
	nrec, ndel uint64
}

func (g *genCursor) corrupt(key []byte, what, reason string) error {
	return &CorruptError{Path: g.db.path, Gen: g.gen, Key: slices.Clone(key), What: what, Offset: -1, Reason: reason}
}

// first moves to the first entry of the generation.
func (g *genCursor) first() error {
	k, v := g.c.First()
	return g.enter(k, v)
}

// enter starts reading the segment stored under k.
func (g *genCursor) enter(k, v []byte) error {
	if k == nil {
		g.k, g.v = nil, nil
		return nil
	}
	if v == nil {
		return g.corrupt(k, "", "a nested bucket where a segment of records belongs")
	}
	if len(k) > MaxKeySize {
		return g.corrupt(k[:32], "", fmt.Sprintf("key is %d bytes, over the %d-byte limit", len(k), MaxKeySize))
	}
	typ, payload, err := decodeValue(k, v)
	if err == nil && typ != recSegment {
		err = fmt.Errorf("found a %v where a segment of records belongs", typ)
	}
	if err != nil {
		return g.corrupt(k, "segment", err.Error())
	}
	g.segKey = k
	g.r.p, g.r.n = payload, 0
	return g.next()
}

// next moves to the next entry, entering the next segment when this one ends.
func (g *genCursor) next() error {
	typ, key, value, ok, err := g.r.next(g.segKey)
	if err != nil {
		return g.corrupt(g.segKey, "segment", err.Error())
	}
	if !ok {
		return g.enter(g.c.Next())
	}
	switch {
	case typ == recData:
		g.nrec++
	case !g.full:
		g.ndel++
	default:
		return g.corrupt(g.segKey, "segment", fmt.Sprintf("tombstone %q in a full generation", key))
	}
	g.typ, g.k, g.v = typ, key, value
	return nil
}

// record is a store.Record or a pickle.Record: LoadWorld loads straight
// into the records pickle decodes, without a copy of the slice.
type record interface {
	~struct{ Key, Value []byte }
}

// loadRecords reads generation gen: the returned checkpoint has everything
// but its Records, which come back as the second result: copied out when
// copyOut is set, else pointing into the mapped file, valid only until tx
// ends (LoadWorld decodes them within it: no copy of a whole world).
func loadRecords[R record](db *DB, tx *bolt.Tx, gen uint64, copyOut bool) (*Checkpoint, []R, error) {
	var cp *Checkpoint
	var recs []R
	var arena []byte
	start := func(c *Checkpoint, nrec, nbytes uint64) error {
		cp = c
		recs = make([]R, 0, int(nrec))
		if copyOut {
			arena = make([]byte, 0, int(nbytes))
		}
		return nil
	}
	emit := func(k, v []byte) error {
		if !copyOut {
			recs = append(recs, R{Key: k, Value: v})
			return nil
		}
		n := len(k) + len(v)
		if len(arena)+n > cap(arena) { // only if a header undercounted
			arena = make([]byte, 0, max(n, 64<<10))
		}
		o := len(arena)
		arena = append(arena, k...)
		arena = append(arena, v...)
		recs = append(recs, R{Key: arena[o : o+len(k) : o+len(k)], Value: arena[o+len(k) : o+n : o+n]})
		return nil
	}
	if err := walkRecords(db, tx, gen, start, emit); err != nil {
		return nil, nil, err
	}
	return cp, recs, nil
}

// walkRecords reads generation gen without holding it: start gets the
// checkpoint without its Records, and how many records and bytes the
// generation headers promise (bounded by the file size, so a damaged
// header cannot make a caller allocate more than the data there is); then
// emit gets each record of the resolved generation in key order, pointing
// into the mapped file, valid only until tx ends. An error of start or
// emit stops the walk and is returned as is.
func walkRecords(db *DB, tx *bolt.Tx, gen uint64, start func(cp *Checkpoint, nrec, nbytes uint64) error, emit func(k, v []byte) error) error {
	gens := tx.Bucket(bucketGens)
	h, err := db.header(gens, gen)
	if err != nil {
		return err
	}
	corrupt := func(g uint64, what, reason string) error {
		return &CorruptError{Path: db.path, Gen: g, What: what, Offset: -1, Reason: reason}
	}

	// Resolve the chain: chain[0] is gen, the last one is the full base.
	chain := []*genCursor{{db: db, gen: gen, h: h}}
	for g := &chain[0].h; g.base != 0; g = &chain[len(chain)-1].h {
		child := chain[len(chain)-1].gen
		bh, err := db.header(gens, g.base)
		if errors.Is(err, ErrNotFound) {
			return corrupt(child, "(generation header)", fmt.Sprintf("its base generation %d is missing", g.base))
		} else if err != nil {
			return err
		}
		chain = append(chain, &genCursor{db: db, gen: g.base, h: bh})
	}
	last := len(chain) - 1
	chain[last].full = true

	// Meta of the requested generation.
	gk := genKey(gen)
	raw := tx.Bucket(bucketMeta).Get(gk)
	if raw == nil {
		return corrupt(gen, "meta", "missing")
	}
	typ, meta, err := decodeValue(gk, raw)
	if err == nil && (typ != recMeta || uint64(len(meta)) != h.metaLen) {
		err = fmt.Errorf("found a %v of %d bytes where %d bytes of meta belong", typ, len(meta), h.metaLen)
	}
	if err != nil {
		return corrupt(gen, "meta", err.Error())
	}
	cp := &Checkpoint{Gen: gen, Time: time.Unix(0, h.nanos)}
	if len(meta) > 0 {
		cp.Meta = slices.Clone(meta)
	}

	// What the headers promise lets a caller size its output; bounded by
	// the file size so a damaged header cannot make it allocate more than
	// the data there is.
	limit := uint64(tx.Size())
	var nrec, nbytes uint64
	for _, c := range chain {
		nrec += c.h.nrec
		nbytes += c.h.recBytes
		b := tx.Bucket(genBucket(c.gen))
		if b == nil {
			return corrupt(c.gen, "(records)", "the generation's record bucket is missing")
		}
		c.c = b.Cursor()
		if err := c.first(); err != nil {
			return err
		}
	}
	if err := start(cp, min(nrec, limit/16), min(nbytes, limit)); err != nil {
		return err
	}

	if last == 0 {
		// A full generation on its own: every entry is a record.
		c := chain[0]
		for c.k != nil {
			if err := emit(c.k, c.v); err != nil {
				return err
			}
			if err := c.next(); err != nil {
				return err
			}
		}
	} else {
		// Merge the sorted generations; for equal keys the newest (lowest
		// index) wins, and every older copy is still read and verified.
		for {
			win := -1
			for i, c := range chain {
				if c.k != nil && (win < 0 || bytes.Compare(c.k, chain[win].k) < 0) {
					win = i
				}
			}
			if win < 0 {
				break
			}
			w := chain[win]
			if w.typ == recData {
				if err := emit(w.k, w.v); err != nil {
					return err
				}
			}
			for i := len(chain) - 1; i >= win; i-- { // the winner last: the others compare to its key
				if c := chain[i]; c.k != nil && (i == win || bytes.Equal(c.k, w.k)) {
					if err := c.next(); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, c := range chain {
		if c.nrec != c.h.nrec || c.ndel != c.h.ndel {
			return corrupt(c.gen, "(records)", fmt.Sprintf("found %d records and %d deletions, the generation header says %d and %d (records lost)",
				c.nrec, c.ndel, c.h.nrec, c.h.ndel))
		}
	}
	return nil
}
