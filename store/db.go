package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Database layout (bbolt, format version 1):
//
//	info/format        -> format version (uint32 BE)
//	gens/<gen BE8>     -> generation header (base, unix nanos, counts, bytes)
//	meta/<gen BE8>     -> the generation's Meta
//	g<gen BE8>/<key>   -> record value, or a tombstone for a key deleted since Base
//
// Every value carries a CRC32C and a type byte (see decodeValue). Generation
// numbers come from the gens bucket's sequence, so they are never reused.
const formatVersion = 1

var (
	bucketInfo = []byte("info")
	bucketGens = []byte("gens")
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")
)

const (
	// pageSize is the bbolt page size of new files (existing files keep
	// theirs). 16 KiB instead of the 4 KiB OS page: a 100k-record Save
	// spills ~4x fewer pages (~15% faster), and multi-KB records need fewer
	// overflow pages; small incremental commits write a few 16 KiB pages.
	pageSize = 16 << 10

	// maxKeptArena bounds the value buffer a DB keeps between Saves.
	maxKeptArena = 64 << 20

	initialMmapSize = 1 << 30

	defaultTimeout   = time.Second
	defaultKeep      = 10
	defaultMaxRecord = 16 << 20
)

type options struct {
	timeout   time.Duration
	keep      int
	maxRecord int
}

// Option configures Open.
type Option func(*options)

// WithTimeout sets how long Open waits for the file lock (default 1s; 0 waits forever).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithKeep keeps the newest k generations, plus the generations a kept
// incremental depends on (default 10; 0 keeps all). Older ones are deleted by Save.
func WithKeep(k int) Option { return func(o *options) { o.keep = k } }

// WithMaxRecord sets the largest accepted record value and Meta, in bytes (default 16 MiB).
func WithMaxRecord(n int) Option { return func(o *options) { o.maxRecord = n } }

// DB is a durable store of checkpoint generations in one bbolt file.
// Its methods are safe for concurrent use; Save calls are serialized.
type DB struct {
	bolt *bolt.DB
	path string
	opts options

	arena []byte // reused value buffer; only touched inside Save's write transaction
}

func genKey(gen uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], gen)
	return k[:]
}

func genBucket(gen uint64) []byte {
	var k [9]byte
	k[0] = 'g'
	binary.BigEndian.PutUint64(k[1:], gen)
	return k[:]
}

// Open opens (creating if needed) the checkpoint database at path.
// It fails with an error wrapping ErrLocked if another process holds the file.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{timeout: defaultTimeout, keep: defaultKeep, maxRecord: defaultMaxRecord}
	for _, opt := range opts {
		opt(&o)
	}
	if o.keep < 0 {
		return nil, fmt.Errorf("store: open %s: WithKeep(%d): keep must be >= 0 (0 keeps every generation)", path, o.keep)
	}
	if o.maxRecord <= 0 || int64(o.maxRecord) > bolt.MaxValueSize-valueHeaderSize {
		return nil, fmt.Errorf("store: open %s: WithMaxRecord(%d): must be between 1 and %d bytes", path, o.maxRecord, bolt.MaxValueSize-valueHeaderSize)
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("store: open %s: WithTimeout(%v): must be >= 0", path, o.timeout)
	}

	st, err := os.Stat(path)
	created := errors.Is(err, fs.ErrNotExist)
	if err == nil && st.Mode().IsRegular() {
		if snap, _ := IsSnapshotFile(path); snap {
			return nil, fmt.Errorf("store: open %s: this is a snapshot file, not a checkpoint database; read it with store.ReadFile", path)
		}
	}

	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      o.timeout,
		FreelistType: bolt.FreelistMapType,
		NoSync:       false,
		PageSize:     pageSize,
		// Reserve address space up front so a growing file does not make
		// bbolt remap mid-commit: a remap copies every dirty node to the
		// heap (86% of a 100k-tasklet checkpoint's allocations) and stalls
		// readers. On 64-bit Linux this costs address space, not memory.
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is held open by another process (a running stackless node or CLI?) and the lock was not released within %v; stop that process or use another path",
				ErrLocked, path, o.timeout)
		}
		var pathErr *fs.PathError
		if !created && !errors.As(err, &pathErr) {
			return nil, fmt.Errorf("store: open %s: %w: not a checkpoint database, or its bbolt header is damaged; restore it from a backup", path, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, opts: o}
	if created {
		// Make the new directory entry durable before anything relies on it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("store: open %s: sync parent directory: %w", path, err)
		}
	}
	if err := db.init(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return db, nil
}

// init checks the format of an existing database, or lays out a new one.
func (db *DB) init() error {
	needInit := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInfo) == nil {
			needInit = true
			return nil
		}
		return db.checkFormat(tx)
	})
	if err != nil || !needInit {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInfo) != nil {
			return db.checkFormat(tx)
		}
		var foreign [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			foreign = append(foreign, name)
			return nil
		})
		if len(foreign) > 0 {
			return fmt.Errorf("store: open %s: this is a bbolt database but not a stackless checkpoint store (it has buckets %q and no %q bucket); refusing to modify it",
				db.path, foreign, bucketInfo)
		}
		info, err := tx.CreateBucket(bucketInfo)
		if err != nil {
			return err
		}
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], formatVersion)
		if err := info.Put(keyFormat, encodeValue(keyFormat, recFormat, v[:])); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketGens); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketMeta)
		return err
	})
}

func (db *DB) checkFormat(tx *bolt.Tx) error {
	bad := func(reason string) error {
		return &CorruptError{Path: db.path, What: "format", Offset: -1, Reason: reason + "; restore the database from a backup"}
	}
	raw := tx.Bucket(bucketInfo).Get(keyFormat)
	if raw == nil {
		return bad("the format version is missing")
	}
	typ, payload, err := decodeValue(keyFormat, raw)
	if err != nil {
		return bad(err.Error())
	}
	if typ != recFormat || len(payload) != 4 {
		return bad(fmt.Sprintf("unexpected %v of %d bytes", typ, len(payload)))
	}
	if v := binary.BigEndian.Uint32(payload); v != formatVersion {
		return fmt.Errorf("%w: checkpoint database %s has format version %d; this build reads version %d; upgrade stackless",
			ErrVersion, db.path, v, formatVersion)
	}
	if tx.Bucket(bucketGens) == nil || tx.Bucket(bucketMeta) == nil {
		return bad("the gens or meta bucket is missing")
	}
	return nil
}

// Path returns the database file path as given to Open.
func (db *DB) Path() string { return db.path }

// Close releases the database file and its lock.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

func compareRecords(a, b Record) int { return bytes.Compare(a.Key, b.Key) }

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
	var h genHeader
	h.base = cp.Base
	total := 0
	for i := range cp.Records {
		r := &cp.Records[i]
		if msg := checkKey(r.Key); msg != "" {
			return fail("record %d: %s", i, msg)
		}
		if len(r.Value) > db.opts.maxRecord {
			return fail("record %q: value is %d bytes, over the %d-byte limit; raise it with store.WithMaxRecord", r.Key, len(r.Value), db.opts.maxRecord)
		}
		total += valueHeaderSize + len(r.Value)
		h.recBytes += uint64(len(r.Key) + len(r.Value))
	}
	for i, k := range cp.Deleted {
		if msg := checkKey(k); msg != "" {
			return fail("deleted key %d: %s", i, msg)
		}
		total += valueHeaderSize
		h.delBytes += uint64(len(k))
	}
	h.nrec, h.ndel, h.metaLen = uint64(len(cp.Records)), uint64(len(cp.Deleted)), uint64(len(cp.Meta))

	// Sorted input makes bbolt append to the right edge of the tree; sort a
	// copy when needed, never the caller's slices.
	recs := cp.Records
	if !slices.IsSortedFunc(recs, compareRecords) {
		recs = slices.Clone(recs)
		slices.SortFunc(recs, compareRecords)
	}
	for i := 1; i < len(recs); i++ {
		if bytes.Equal(recs[i-1].Key, recs[i].Key) {
			return fail("duplicate record key %q; each key may appear once per checkpoint", recs[i].Key)
		}
	}
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

	t := cp.Time
	if t.IsZero() {
		t = time.Now()
	}
	h.nanos = t.UnixNano()

	err = db.bolt.Update(func(tx *bolt.Tx) error {
		// One buffer for every stored value (bbolt keeps references to the
		// values until commit). Update runs one writer at a time, so the
		// buffer can be kept for the next Save.
		if cap(db.arena) < total {
			db.arena = make([]byte, total)
		}
		arena := db.arena[:total]
		defer func() {
			if cap(db.arena) > maxKeptArena {
				db.arena = nil
			}
		}()
		gens, metaB := tx.Bucket(bucketGens), tx.Bucket(bucketMeta)
		if cp.Base != 0 {
			if _, err := db.header(gens, cp.Base); err != nil {
				if errors.Is(err, ErrNotFound) {
					return fmt.Errorf("store: save to %s: base generation %d: %w (pruned or deleted?); save a full checkpoint (Base=0) instead",
						db.path, cp.Base, ErrNotFound)
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
		if cp.Base >= gen {
			return fmt.Errorf("store: save to %s: base generation %d is not older than the new generation %d", db.path, cp.Base, gen)
		}
		name := genBucket(gen)
		if tx.Bucket(name) != nil { // leftover from a damaged database; never referenced
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		b, err := tx.CreateBucket(name)
		if err != nil {
			return err
		}
		b.FillPercent = 0.9

		// Merge records and tombstones so keys go in ascending order.
		off, i, j := 0, 0, 0
		for i < len(recs) || j < len(dels) {
			var key, payload []byte
			typ := recData
			if j == len(dels) || (i < len(recs) && bytes.Compare(recs[i].Key, dels[j]) < 0) {
				key, payload = recs[i].Key, recs[i].Value
				i++
			} else {
				if i < len(recs) && bytes.Equal(recs[i].Key, dels[j]) {
					return fmt.Errorf("store: save to %s: key %q is both in Records and Deleted", db.path, dels[j])
				}
				key, typ = dels[j], recTombstone
				j++
			}
			n := valueHeaderSize + len(payload)
			v := arena[off : off+n : off+n]
			off += n
			putValue(v, key, typ, payload)
			if err := b.Put(key, v); err != nil {
				return fmt.Errorf("store: save to %s: put %q: %w", db.path, key, err)
			}
		}
		gk := genKey(gen)
		if err := metaB.Put(gk, encodeValue(gk, recMeta, cp.Meta)); err != nil {
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
	cp.Gen, cp.Time = gen, time.Unix(0, h.nanos)
	return gen, nil
}

// header reads and checks the header of gen; ErrNotFound if it does not exist.
func (db *DB) header(gens *bolt.Bucket, gen uint64) (genHeader, error) {
	var h genHeader
	gk := genKey(gen)
	raw := gens.Get(gk)
	if raw == nil {
		return h, fmt.Errorf("%w: generation %d is not in %s (see List for the stored ones)", ErrNotFound, gen, db.path)
	}
	return h, db.decodeHeader(gen, gk, raw, &h)
}

func (db *DB) decodeHeader(gen uint64, gk, raw []byte, h *genHeader) error {
	typ, payload, err := decodeValue(gk, raw)
	if err == nil && typ != recGenHeader {
		err = fmt.Errorf("found a %v where a generation header belongs", typ)
	}
	if err == nil {
		err = h.unmarshal(payload)
	}
	if err == nil && h.base >= gen {
		err = fmt.Errorf("base generation %d is not older than the generation", h.base)
	}
	if err != nil {
		return &CorruptError{Path: db.path, Gen: gen, What: "(generation header)", Offset: -1, Reason: err.Error()}
	}
	return nil
}

// genEntry is one generation's number and header, for retention and Delete.
type genEntry struct {
	gen uint64
	h   genHeader
}

// headers lists every generation, oldest first.
func (db *DB) headers(tx *bolt.Tx) ([]genEntry, error) {
	var out []genEntry
	c := tx.Bucket(bucketGens).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return out, &CorruptError{Path: db.path, Key: slices.Clone(k), Offset: -1, Reason: "unexpected key in the gens bucket"}
		}
		e := genEntry{gen: binary.BigEndian.Uint64(k)}
		if err := db.decodeHeader(e.gen, k, v, &e.h); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// prune deletes generations beyond the newest keep, except the ones a kept
// generation depends on (its whole base chain).
func (db *DB) prune(tx *bolt.Tx) error {
	keep := db.opts.keep
	if keep == 0 {
		return nil
	}
	all, err := db.headers(tx)
	if err != nil || len(all) <= keep {
		// A damaged header: delete nothing rather than something still needed.
		// Load and List report the damage.
		return nil
	}
	byGen := make(map[uint64]genHeader, len(all))
	for _, e := range all {
		byGen[e.gen] = e.h
	}
	kept := make(map[uint64]bool, keep)
	for _, e := range all[len(all)-keep:] {
		for g := e.gen; g != 0 && !kept[g]; g = byGen[g].base {
			kept[g] = true
		}
	}
	for _, e := range all {
		if !kept[e.gen] {
			if err := db.deleteGen(tx, e.gen); err != nil {
				return err
			}
		}
	}
	return nil
}

func (db *DB) deleteGen(tx *bolt.Tx, gen uint64) error {
	if err := tx.DeleteBucket(genBucket(gen)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	gk := genKey(gen)
	if err := tx.Bucket(bucketMeta).Delete(gk); err != nil {
		return err
	}
	return tx.Bucket(bucketGens).Delete(gk)
}

// Latest returns the newest generation; an error wrapping ErrEmpty if there is none.
func (db *DB) Latest() (uint64, error) {
	var gen uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketGens).Cursor().Last()
		if k == nil {
			return fmt.Errorf("%w in %s", ErrEmpty, db.path)
		}
		if len(k) != 8 {
			return &CorruptError{Path: db.path, Key: slices.Clone(k), Offset: -1, Reason: "unexpected key in the gens bucket"}
		}
		gen = binary.BigEndian.Uint64(k)
		return nil
	})
	return gen, err
}

// List describes every stored generation, oldest first.
func (db *DB) List() ([]GenInfo, error) {
	var out []GenInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		all, err := db.headers(tx)
		if err != nil {
			return err
		}
		out = make([]GenInfo, len(all))
		for i, e := range all {
			out[i] = e.h.info(e.gen)
		}
		return nil
	})
	return out, err
}

// Delete removes generation gen. It refuses when another stored generation
// is an incremental on top of gen.
func (db *DB) Delete(gen uint64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		gens := tx.Bucket(bucketGens)
		if gens.Get(genKey(gen)) == nil {
			return fmt.Errorf("%w: generation %d is not in %s (see List for the stored ones)", ErrNotFound, gen, db.path)
		}
		// The generation's own header may be damaged (deleting it is how
		// damage is cleaned up), but every other one must be readable to
		// know what depends on gen.
		var deps []string
		c := gens.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return &CorruptError{Path: db.path, Key: slices.Clone(k), Offset: -1, Reason: "unexpected key in the gens bucket"}
			}
			g := binary.BigEndian.Uint64(k)
			if g == gen {
				continue
			}
			var h genHeader
			if err := db.decodeHeader(g, k, v, &h); err != nil {
				return fmt.Errorf("store: delete generation %d: cannot check which generations depend on it: %w", gen, err)
			}
			if h.base == gen {
				deps = append(deps, fmt.Sprint(g))
			}
		}
		if len(deps) > 0 {
			return fmt.Errorf("store: cannot delete generation %d of %s: incremental generation(s) %s are based on it; delete those first",
				gen, db.path, strings.Join(deps, ", "))
		}
		return db.deleteGen(tx, gen)
	})
}

// Load returns generation gen as a resolved full checkpoint: its base chain
// applied (newest record wins, deleted keys removed), Base 0, Records sorted
// by key. Every checksum of every generation in the chain is verified first;
// damage is reported as a *CorruptError (errors.Is(err, ErrCorrupt)).
// The returned slices are owned by the caller.
func (db *DB) Load(gen uint64) (*Checkpoint, error) {
	var cp *Checkpoint
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		cp, err = db.load(tx, gen)
		return err
	})
	return cp, err
}

// genCursor walks one generation bucket of a chain.
type genCursor struct {
	gen        uint64
	h          genHeader
	c          *bolt.Cursor
	k, v       []byte
	nrec, ndel uint64
}

func (db *DB) load(tx *bolt.Tx, gen uint64) (*Checkpoint, error) {
	gens := tx.Bucket(bucketGens)
	h, err := db.header(gens, gen)
	if err != nil {
		return nil, err
	}
	corrupt := func(g uint64, key []byte, what, reason string) error {
		return &CorruptError{Path: db.path, Gen: g, Key: slices.Clone(key), What: what, Offset: -1, Reason: reason}
	}

	// Resolve the chain: chain[0] is gen, the last one is the full base.
	chain := []*genCursor{{gen: gen, h: h}}
	for g := &chain[0].h; g.base != 0; g = &chain[len(chain)-1].h {
		child := chain[len(chain)-1].gen
		bh, err := db.header(gens, g.base)
		if errors.Is(err, ErrNotFound) {
			return nil, corrupt(child, nil, "(generation header)", fmt.Sprintf("its base generation %d is missing", g.base))
		} else if err != nil {
			return nil, err
		}
		chain = append(chain, &genCursor{gen: g.base, h: bh})
	}

	// Meta of the requested generation.
	gk := genKey(gen)
	raw := tx.Bucket(bucketMeta).Get(gk)
	if raw == nil {
		return nil, corrupt(gen, nil, "meta", "missing")
	}
	typ, meta, err := decodeValue(gk, raw)
	if err == nil && (typ != recMeta || uint64(len(meta)) != h.metaLen) {
		err = fmt.Errorf("found a %v of %d bytes where %d bytes of meta belong", typ, len(meta), h.metaLen)
	}
	if err != nil {
		return nil, corrupt(gen, nil, "meta", err.Error())
	}
	cp := &Checkpoint{Gen: gen, Time: time.Unix(0, h.nanos)}
	if len(meta) > 0 {
		cp.Meta = slices.Clone(meta)
	}

	// Size the output from the headers, bounded by the file size so a
	// damaged header cannot make us allocate more than the data we have.
	limit := uint64(tx.Size())
	var nrec, nbytes uint64
	for _, c := range chain {
		nrec += c.h.nrec
		nbytes += c.h.recBytes
		b := tx.Bucket(genBucket(c.gen))
		if b == nil {
			return nil, corrupt(c.gen, nil, "(records)", "the generation's record bucket is missing")
		}
		c.c = b.Cursor()
		c.k, c.v = c.c.First()
	}
	nrec = min(nrec, limit/16)
	nbytes = min(nbytes, limit)
	recs := make([]Record, 0, int(nrec))
	arena := make([]byte, 0, int(nbytes))
	emit := func(k, v []byte) {
		n := len(k) + len(v)
		if len(arena)+n > cap(arena) { // only if a header undercounted
			arena = make([]byte, 0, max(n, 64<<10))
		}
		o := len(arena)
		arena = append(arena, k...)
		arena = append(arena, v...)
		recs = append(recs, Record{Key: arena[o : o+len(k) : o+len(k)], Value: arena[o+len(k) : o+n : o+n]})
	}

	// check verifies the current entry of c and counts it.
	check := func(c *genCursor, full bool) (recType, []byte, error) {
		if c.v == nil {
			return 0, nil, corrupt(c.gen, c.k, "", "a nested bucket where a record belongs")
		}
		if len(c.k) > MaxKeySize {
			return 0, nil, corrupt(c.gen, c.k[:32], "", fmt.Sprintf("key is %d bytes, over the %d-byte limit", len(c.k), MaxKeySize))
		}
		typ, payload, err := decodeValue(c.k, c.v)
		if err != nil {
			return 0, nil, corrupt(c.gen, c.k, "", err.Error())
		}
		switch {
		case typ == recData:
			c.nrec++
		case typ == recTombstone && !full && len(payload) == 0:
			c.ndel++
		default:
			return 0, nil, corrupt(c.gen, c.k, "", fmt.Sprintf("unexpected %v of %d bytes in a %s generation", typ, len(payload), map[bool]string{true: "full", false: "incremental"}[full]))
		}
		return typ, payload, nil
	}

	last := len(chain) - 1
	if last == 0 {
		// A full generation on its own: every entry is a record.
		c := chain[0]
		for ; c.k != nil; c.k, c.v = c.c.Next() {
			_, payload, err := check(c, true)
			if err != nil {
				return nil, err
			}
			emit(c.k, payload)
		}
	} else {
		// Merge the sorted generation buckets; for equal keys the newest
		// (lowest index) wins, and every older copy is still verified.
		match := make([]int, 0, len(chain))
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
			match = match[:0]
			for i := win; i < len(chain); i++ {
				if chain[i].k != nil && (i == win || bytes.Equal(chain[i].k, chain[win].k)) {
					match = append(match, i)
				}
			}
			for _, i := range match {
				typ, payload, err := check(chain[i], i == last)
				if err != nil {
					return nil, err
				}
				if i == win && typ == recData {
					emit(chain[i].k, payload)
				}
			}
			for _, i := range match {
				c := chain[i]
				c.k, c.v = c.c.Next()
			}
		}
	}
	for _, c := range chain {
		if c.nrec != c.h.nrec || c.ndel != c.h.ndel {
			return nil, corrupt(c.gen, nil, "(records)", fmt.Sprintf("found %d records and %d deletions, the generation header says %d and %d (records lost)",
				c.nrec, c.ndel, c.h.nrec, c.h.ndel))
		}
	}
	cp.Records = recs
	return cp, nil
}

// syncDir fsyncs a directory so a new or renamed entry in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
