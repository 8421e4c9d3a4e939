package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/fsmode"
	"github.com/stackless-go/stackless/internal/memlimit"
	"github.com/stackless-go/stackless/internal/shquote"

	"github.com/stackless-go/stackless/internal/lockholder"
)

// Database layout (bbolt, format version 2):
//
//	info/format        -> format version (uint32 BE)
//	gens/<gen BE8>     -> generation header (base, unix nanos, counts, bytes)
//	meta/<gen BE8>     -> the generation's Meta
//	g<gen BE8>/<key>   -> a segment: the generation's records and tombstones
//	                      from key on, in key order (see segment.go)
//
// Every value carries a CRC32C and a type byte (see decodeValue). Generation
// numbers come from the gens bucket's sequence, so they are never reused.
// Version 1 stored one value per record; this build refuses it (see checkFormat).
const formatVersion = 2

var (
	bucketInfo = []byte("info")
	bucketGens = []byte("gens")
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")
)

const (
	// pageSize is the bbolt page size of new files (existing files keep
	// theirs). 16 KiB instead of the 4 KiB OS page: a 64 KiB segment is a
	// run of 5 pages instead of 17, and big records need fewer overflow
	// pages; small incremental commits write a few 16 KiB pages.
	pageSize = 16 << 10

	// maxKeptArena bounds each segment buffer a DB keeps between checkpoints.
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
	readOnly  bool
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

// WithReadOnly opens an existing database for reading only: the file is
// never created, set up or written, bbolt takes a shared lock, and its
// free-page list is not read, so a damaged one does not stop reads. Save
// and Delete fail. For inspecting and exporting.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

// DB is a durable store of checkpoint generations in one bbolt file.
// Its methods are safe for concurrent use; Save calls are serialized.
type DB struct {
	bolt *bolt.DB
	path string
	tmp  string // the name bbolt opened a database made by create under, and names in its errors
	opts options

	mu     sync.Mutex
	broken error // set when bbolt panicked in a write: the DB is not used again

	bufs bufPool // segment buffers reused between checkpoints
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

// Open opens (creating if needed) the checkpoint database at path, and
// creates its folder (0700) when that is missing too.
// It fails with an error wrapping ErrLocked if another process holds the file.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{timeout: defaultTimeout, keep: defaultKeep, maxRecord: defaultMaxRecord}
	for _, opt := range opts {
		opt(&o)
	}
	if o.keep < 0 {
		return nil, fmt.Errorf("store: open %s: WithKeep(%d): keep must be >= 0 (0 keeps every generation)", path, o.keep)
	}
	if o.maxRecord <= 0 || int64(o.maxRecord) > bolt.MaxValueSize-maxSegmentOverhead {
		return nil, fmt.Errorf("store: open %s: WithMaxRecord(%d): must be between 1 and %d bytes", path, o.maxRecord, bolt.MaxValueSize-maxSegmentOverhead)
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("store: open %s: WithTimeout(%v): must be >= 0", path, o.timeout)
	}

	st, err := os.Stat(path)
	if (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && !o.readOnly {
		if err := makeFolder(filepath.Dir(path)); err != nil { // folder.go
			return nil, fmt.Errorf("store: open %s: create its folder: %w", path, atomicfile.Failed(err, "", filepath.Dir(path)))
		}
		db, cerr := create(path, o)
		if !errors.Is(cerr, fs.ErrExist) {
			return db, cerr
		}
		st, err = os.Stat(path) // another process created it meanwhile: open theirs
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s, not a regular file; give the path of a checkpoint database", ErrNotDatabase, path, fsmode.Describe(st.Mode()))
	}
	if snap, _ := IsSnapshotFile(path); snap {
		return nil, fmt.Errorf("%w: %s is a snapshot file; read it with store.ReadFile (or stackless inspect)", ErrNotDatabase, path)
	}
	if err := preflight(path, !o.readOnly, o.timeout); err != nil {
		return nil, err
	}
	bdb, err := openBolt(path, o)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, lockedError(path, o.timeout)
		}
		var pathErr *fs.PathError
		switch {
		case errors.Is(err, ErrCorrupt): // names the file already
			return nil, err
		case errors.Is(err, syscall.ENOMEM):
			// Not damage: the file could not be mapped. Saying "damaged,
			// move it away" here would have the user throw away a good
			// database.
			return nil, outOfMemory(path, st.Size(), err)
		case errors.As(err, &pathErr) && o.readOnly:
			return nil, fmt.Errorf("store: open %s: %w", path, atomicfile.Unnamed(err, "", path))
		case errors.As(err, &pathErr): // opened to write: a read-only disk says so
			return nil, fmt.Errorf("store: open %s: %w", path, atomicfile.Failed(err, "", path))
		}
		return nil, &CorruptError{Path: path, What: whatBolt, Offset: -1,
			Reason: fmt.Sprintf("bbolt refuses it: %v; restore it from a backup, or move it away to start a new database", err)}
	}
	db := &DB{bolt: bdb, path: path, opts: o}
	if err := db.init(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return db, nil
}

// outOfMemory says that the database at path, size bytes, could not be
// mapped for lack of memory or address space, and under which limit.
func outOfMemory(path string, size int64, err error) error {
	where := "this process has too little memory or address space left"
	if lim, ok := memlimit.Tightest(); ok {
		where = fmt.Sprintf("%s are left under %s", memlimit.Bytes(lim.Left()), lim)
	}
	return fmt.Errorf("store: open %s: mapping its %s into memory failed (%w): %s; the file is not damaged: raise the limit (ulimit -v) or free memory, and open it again",
		path, memlimit.Bytes(uint64(max(size, 0))), err, where)
}

// init checks the format of an existing database, or lays out a new one.
func (db *DB) init() error {
	needInit := false
	foreign := func(tx *bolt.Tx) error {
		var names [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, name)
			return nil
		})
		switch {
		case len(names) > 0:
			return fmt.Errorf("%w: %s is a bbolt database but not a stackless checkpoint store (it has buckets %q and no %q bucket); refusing to modify it (if it was one, it is damaged: restore it from a backup, or move it away to start a new database)",
				ErrNotDatabase, db.path, names, bucketInfo)
		case db.opts.readOnly:
			return fmt.Errorf("%w: %s is an empty bbolt database: no checkpoint was ever stored in it", ErrNotDatabase, db.path)
		}
		return nil
	}
	err := db.view("opening it", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInfo) == nil {
			needInit = true
			return foreign(tx)
		}
		return db.checkFormat(tx)
	})
	if err != nil || !needInit {
		return err
	}
	return db.update("setting it up", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInfo) != nil {
			return db.checkFormat(tx)
		}
		if err := foreign(tx); err != nil {
			return err
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
	switch v := binary.BigEndian.Uint32(payload); {
	case v > formatVersion:
		return fmt.Errorf("%w: checkpoint database %s has format version %d; this build reads version %d; upgrade stackless",
			ErrVersion, db.path, v, formatVersion)
	case v < formatVersion:
		return fmt.Errorf("%w: checkpoint database %s has format version %d, written by an older stackless; this build reads version %d only. "+
			"Export the generations you need with the stackless that wrote it (stackless checkpoint export %s OUT.snapshot; snapshot files are still read), "+
			"then move %s away so a new database is started",
			ErrVersion, db.path, v, formatVersion, db.path, db.path)
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
	if err := db.guardClose(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// header reads and checks the header of gen; ErrNotFound if it does not exist.
func (db *DB) header(gens *bolt.Bucket, gen uint64) (genHeader, error) {
	var h genHeader
	gk := genKey(gen)
	raw := gens.Get(gk)
	if raw == nil {
		return h, fmt.Errorf("%w: generation %d is not in %s (DB.List or `stackless checkpoint ls %s` lists the stored ones)", ErrNotFound, gen, db.path, shquote.Quote(db.path))
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

// numbers lists the stored generations' numbers, newest first, without
// reading their headers: a damaged header is the generation's own
// problem, found when it is read, not every caller's.
func (db *DB) numbers() ([]uint64, error) {
	var out []uint64
	err := db.view("listing the generations", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketGens).Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if len(k) == 8 {
				out = append(out, binary.BigEndian.Uint64(k))
			}
		}
		return nil
	})
	return out, err
}

// Latest returns the newest generation; an error wrapping ErrEmpty if there is none.
func (db *DB) Latest() (uint64, error) {
	var gen uint64
	err := db.view("finding the newest generation", func(tx *bolt.Tx) error {
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
	err := db.view("listing the generations", func(tx *bolt.Tx) error {
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
	return db.update(fmt.Sprintf("deleting generation %d", gen), func(tx *bolt.Tx) error {
		gens := tx.Bucket(bucketGens)
		if gens.Get(genKey(gen)) == nil {
			return fmt.Errorf("%w: generation %d is not in %s (DB.List or `stackless checkpoint ls %s` lists the stored ones)", ErrNotFound, gen, db.path, shquote.Quote(db.path))
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

// lockedError is Open's error when another process kept path locked for
// timeout.
func lockedError(path string, timeout time.Duration) error {
	return fmt.Errorf("%w: %s is held open by %s and the lock was not released within %v; stop that process or use another path",
		ErrLocked, path, holder(path), timeout)
}

// holder names the process holding the lock on path for an error message,
// or guesses when the system cannot tell.
func holder(path string) string {
	if who := lockholder.Describe(path); who != "" {
		return who
	}
	return "another process (a running stackless node or CLI?)"
}
