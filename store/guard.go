package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/memlimit"
)

// Why a guard: bbolt reads its pages straight from the memory-mapped file
// and trusts them. A damaged branch or leaf page makes it panic ("assertion
// failed: Page expected to be...", index out of range), and a page the file
// no longer has (truncated behind its back) makes the read fault (SIGBUS),
// which kills the process unless the faulting goroutine asked for a panic
// instead (debug.SetPanicOnFault). So every bbolt call of a DB runs in
// guard, on the caller's goroutine: faults become panics, panics become a
// CorruptError naming the file and what to do. Every value read from the
// map is copied, checksummed or decoded inside the guarded call, so nothing
// outside touches mapped memory (LoadWorld decodes on helper goroutines
// too: pickle's DecodeWorldParallel makes their faults panics and carries
// the panics back to the guarded goroutine).

// guard runs fn, a bbolt call doing op ("reading generation 3"), and turns a
// panic or memory fault inside it into a CorruptError. After a panic in a
// write (poison set) the DB refuses every further call but Close: bbolt's
// state may be half updated.
func (db *DB) guard(op string, poison bool, fn func() error) (err error) {
	if err := db.poisoned(); err != nil {
		return err
	}
	old := debug.SetPanicOnFault(true)
	defer func() {
		r := recover()
		debug.SetPanicOnFault(old)
		if r == nil {
			return
		}
		err = panicked(db.path, op, r)
		if poison {
			db.mu.Lock()
			if db.broken == nil {
				db.broken = err
			}
			db.mu.Unlock()
		}
	}()
	return db.fileError(fn())
}

// fileError makes an error of bbolt's file say what to do: it names the
// database by its path, not by the temporary name create made it under
// (gone once linked: "write .world.db.new-123: no space left on device"
// named a file nobody could find), and says what a full disk means.
func (db *DB) fileError(err error) error {
	if err == nil {
		return nil
	}
	if db.tmp != "" && strings.Contains(err.Error(), db.tmp) {
		// The text, not an fs.PathError in the chain: wrappers have
		// formatted the name already, and bbolt formats some errors with
		// %s ("file resize error: ...").
		err = renamedError{strings.ReplaceAll(err.Error(), db.tmp, db.path), err}
	}
	switch {
	case diskFull(err):
		return fmt.Errorf("%w: the disk (or a quota or file size limit) is full; nothing of this write was kept and what was stored before is intact: free space and try again", err)
	case errnoIn(err, syscall.EROFS):
		// Linux remounts a file system read-only after a disk error: a
		// database that worked a second ago then fails with no more than
		// "read-only file system".
		return fmt.Errorf("%w: the file system of %s turned read-only (Linux does so after a disk error; see dmesg); nothing of this write was kept and what was stored before is intact: copy the file to a writable folder and go on from there, or make this one writable",
			err, db.path)
	case errnoIn(err, syscall.ENOMEM):
		return fmt.Errorf("%w: the database's mapping could not grow (memory or address space, ulimit -v, ran out); nothing of this write was kept and what was stored before is intact: close it, raise the limit or free memory, and open it again",
			err)
	}
	return err
}

// errnoIn reports whether err is, or its text ends with, e: bbolt formats
// some errors with %s, leaving no errno in the chain.
func errnoIn(err error, e syscall.Errno) bool {
	return errors.Is(err, e) || strings.HasSuffix(err.Error(), e.Error())
}

// diskFull reports whether err says the disk, a quota or the file size
// limit is full.
func diskFull(err error) bool { return atomicfile.DiskFull(err) }

// renamedError is an error whose text names the database by its path.
type renamedError struct {
	msg string
	err error
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }

func (db *DB) poisoned() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.broken != nil {
		return fmt.Errorf("store: %s was found damaged earlier and is no longer used; close it: %w", db.path, db.broken)
	}
	return nil
}

// view and update are bbolt's View and Update under guard.
func (db *DB) view(op string, fn func(*bolt.Tx) error) error {
	return db.guard(op, false, func() error { return db.bolt.View(fn) })
}

func (db *DB) update(op string, fn func(*bolt.Tx) error) error {
	if db.opts.readOnly {
		return fmt.Errorf("store: %s %s: the database was opened read-only (store.WithReadOnly); open it without that option to change it", op, db.path)
	}
	return db.guard(op, true, func() error { return db.bolt.Update(fn) })
}

// panicked is the error for a panic r that bbolt raised while doing op on
// the file at path.
func panicked(path, op string, r any) error {
	what := fmt.Sprint(r)
	var re interface{ Addr() uintptr }
	if err, ok := r.(error); ok && errors.As(err, &re) {
		what = "a memory fault reading the mapped file (" + what + "), as when the file was cut short"
	}
	reason := fmt.Sprintf("bbolt failed on a damaged page while %s: %s", op, what)
	if strings.HasPrefix(op, "reading generation") {
		return &CorruptError{Path: path, What: whatBolt, Offset: -1,
			Reason: reason + "; an older generation may still be readable (--gen), else restore the file from a backup"}
	}
	return damaged(path, reason)
}

// openBolt opens path with bbolt under guard. bbolt.Open reads the meta and
// freelist pages and can panic on them; then it has not returned its DB, so
// the file it opened and locked is closed here.
func openBolt(path string, o options) (*bolt.DB, error) {
	size := initialMmapSize
	if lim, ok := memlimit.Tightest(); ok && lim.Name == memlimit.AddressSpace && lim.Left() < 4*initialMmapSize {
		// Under ulimit -v a reservation this large left the heap too
		// little: a game of 100,000 entities died in the Go runtime at
		// its first save under 3 GB.
		size = 0
	}
	bdb, err := openBoltMapped(path, o, size)
	if errors.Is(err, syscall.ENOMEM) {
		// The reservation is a speed-up, not a need: under a limit of
		// address space (ulimit -v, RLIMIT_AS) it made every open fail
		// with "cannot allocate memory", even of an empty file. bbolt
		// then maps only what the file holds and grows the mapping.
		bdb, err = openBoltMapped(path, o, 0)
	}
	return bdb, err
}

// openBoltMapped is openBolt reserving mmapSize bytes of address space
// for the file (0: only its size).
func openBoltMapped(path string, o options, mmapSize int) (bdb *bolt.DB, err error) {
	var file *os.File
	bo := &bolt.Options{
		Timeout:      o.timeout,
		FreelistType: bolt.FreelistMapType,
		NoSync:       false,
		PageSize:     pageSize,
		ReadOnly:     o.readOnly,
		// Reserve address space up front so a growing file does not make
		// bbolt remap mid-commit: a remap copies every dirty node to the
		// heap (86% of a 100k-tasklet checkpoint's allocations) and stalls
		// readers. On 64-bit Linux this costs address space, not memory.
		InitialMmapSize: mmapSize,
		OpenFile: func(name string, flag int, perm fs.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	}
	old := debug.SetPanicOnFault(true)
	defer func() {
		r := recover()
		debug.SetPanicOnFault(old)
		if r != nil {
			if file != nil {
				_ = file.Close() // releases the lock; the mapping is left behind
			}
			bdb, err = nil, panicked(path, "opening it", r)
		}
	}()
	return bolt.Open(path, 0o600, bo)
}

// create makes a new database at path atomically: bbolt lays out a
// temporary file in the same folder, the stackless buckets are committed
// into it, and only then is it linked in under path. A crash at any point
// leaves no file at path (at worst a stray temporary), never an empty or
// half-written one, which Open would refuse. It fails with fs.ErrExist if
// path appeared meanwhile (another process created it): open that one.
func create(path string, o options) (*DB, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, atomicfile.Failed(err, "", path))
	}
	tmp := f.Name()
	_ = f.Close()
	defer os.Remove(tmp) // once linked, only the temporary name goes
	bdb, err := openBolt(tmp, o)
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, atomicfile.Failed(err, tmp, path))
	}
	db := &DB{bolt: bdb, path: path, tmp: tmp, opts: o}
	if err := db.init(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			_ = bdb.Close()
			return nil, err
		}
		// No hard links on this file system: rename, unless path exists.
		if _, serr := os.Lstat(path); serr == nil {
			_ = bdb.Close()
			return nil, fs.ErrExist
		}
		if err := os.Rename(tmp, path); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("store: create %s: %w", path, atomicfile.Failed(err, tmp, path))
		}
	}
	// Make the new directory entry durable before anything relies on it.
	if err := syncDir(dir); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: create %s: sync the folder: %w", path, err)
	}
	return db, nil
}

// guardClose closes bbolt under guard: closing unmaps the file and, for a
// writable DB, may touch its pages.
func (db *DB) guardClose() (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		r := recover()
		debug.SetPanicOnFault(old)
		if r != nil {
			err = panicked(db.path, "closing it", r)
		}
	}()
	return db.bolt.Close()
}
