package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"time"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// ErrNotDatabase is wrapped by the errors of Open for an existing file that
// is not a checkpoint database at all: empty, a snapshot file, a text file,
// a bbolt file of another program. Such a file is never treated as "no
// checkpoint yet": it is refused, so nothing overwrites it.
var ErrNotDatabase = errors.New("store: not a checkpoint database")

// Why a preflight: bbolt maps the whole file and trusts its meta page. A
// file truncated below the meta page's high-water mark faults (SIGBUS) on
// the first read of a missing page, and a damaged freelist page panics
// inside bbolt.Open, before any caller could recover. So Open first reads
// both meta pages and the freelist with plain reads and checks them against
// each other and against the file size, walks the page tree once
// (preflight_tree.go), and refuses what bbolt would crash or loop on. Damage in the other pages is caught by the guard around every bbolt
// call (guard.go) and by the checksums of every stored value.

// The bbolt on-disk format (go.etcd.io/bbolt internal/common): every page
// starts with a 16-byte header (id u64, flags u16, count u16, overflow u32);
// a meta page's body is magic, version, page size, flags (u32 each), the
// root bucket (root page u64, sequence u64), the freelist page, the
// high-water mark (pages in use), the transaction id and an FNV-64a
// checksum of the fields before it (u64 each). Integers are in the
// machine's byte order.
const (
	boltPageHeader   = 16
	boltMetaSize     = 64
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaFlag     = 0x04
	boltFreelistFlag = 0x10
	boltNoFreelist   = ^uint64(0)
	boltMinPageSize  = 512
	boltMaxPageSize  = 1 << 24
)

// boltMeta is a decoded meta page.
type boltMeta struct {
	magic, version, pageSize uint32
	root, freelist, pgid     uint64
	txid                     uint64
	sumOK                    bool
}

func parseBoltMeta(p []byte) (boltMeta, bool) {
	if len(p) < boltPageHeader+boltMetaSize {
		return boltMeta{}, false
	}
	b := p[boltPageHeader:]
	ne := binary.NativeEndian
	m := boltMeta{
		magic:    ne.Uint32(b[0:]),
		version:  ne.Uint32(b[4:]),
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
	}
	h := fnv.New64a()
	h.Write(b[:56])
	m.sumOK = h.Sum64() == ne.Uint64(b[56:])
	return m, true
}

// valid is bbolt's own test of a meta page (Meta.Validate).
func (m boltMeta) valid() bool {
	return m.magic == boltMagic && m.version == boltVersion && m.sumOK
}

// errLockTimeout is lockWait's error when the lock stayed taken.
var errLockTimeout = errors.New("store: lock not released in time")

// preflight checks the existing file at path before bbolt maps it.
// withFreelist also checks the freelist page, which only a writable open
// reads. It reads under the lock bbolt takes (shared for a read-only open),
// waiting up to timeout (0: without limit) as bbolt would: pages read while
// another process commits are half old, half new, and made a database in
// use look damaged.
func preflight(path string, withFreelist bool, timeout time.Duration) error {
	notDB := func(reason string) error {
		return fmt.Errorf("%w: %s %s; it was not written by stackless as a checkpoint database. "+
			"Give the path of a checkpoint database (such as data/longtask.db or DIR/cluster.db), or move this file away",
			ErrNotDatabase, path, reason)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, atomicfile.Unnamed(err, "", path))
	}
	defer f.Close() // releases the lock
	if err := lockWait(f, !withFreelist, timeout); err != nil {
		if errors.Is(err, errLockTimeout) {
			return lockedError(path, timeout)
		}
		return fmt.Errorf("store: open %s: lock it: %w", path, err)
	}
	st, err := f.Stat() // under the lock: the holder may have grown it
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return fmt.Errorf("%w: %s is empty (0 bytes), so it holds no checkpoint: it is not used as a new database, as it may be one that lost its contents. "+
			"Restore it from a backup, or move it away (or delete it) to start a new database",
			ErrNotDatabase, path)
	}
	read := func(off int64, n int) ([]byte, error) {
		buf := make([]byte, n)
		k, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("store: open %s: read %d bytes at %d: %w", path, n, off, err)
		}
		return buf[:k], nil
	}

	// Find the page size the way bbolt does: from the first meta page, or
	// else from a second meta page at one of the possible page sizes.
	first, err := read(0, boltPageHeader+boltMetaSize)
	if err != nil {
		return err
	}
	m0, _ := parseBoltMeta(first)
	pageSize := int64(0)
	magic := m0.magic == boltMagic
	if m0.valid() {
		pageSize = int64(m0.pageSize)
	} else {
		for ps := int64(1024); ps <= boltMaxPageSize && ps < size; ps <<= 1 {
			p, err := read(ps, boltPageHeader+boltMetaSize)
			if err != nil {
				return err
			}
			if m, ok := parseBoltMeta(p); ok {
				magic = magic || m.magic == boltMagic
				if m.valid() {
					pageSize = int64(m.pageSize)
					break
				}
			}
		}
	}
	if !magic {
		return notDB("has no bbolt header")
	}
	if pageSize == 0 {
		return damaged(path, "both meta pages (the bbolt headers) fail their checksum or version check")
	}
	if pageSize < boltMinPageSize || pageSize > boltMaxPageSize || pageSize&(pageSize-1) != 0 {
		return damaged(path, fmt.Sprintf("its meta page gives a page size of %d bytes, which bbolt never writes", pageSize))
	}
	if size < 2*pageSize {
		return damaged(path, fmt.Sprintf("the file is %d bytes, shorter than its two %d-byte meta pages (truncated)", size, pageSize))
	}

	// The meta page bbolt will use: the valid one with the higher txid.
	var metas []boltMeta
	for i := range int64(2) {
		p, err := read(i*pageSize, boltPageHeader+boltMetaSize)
		if err != nil {
			return err
		}
		if m, ok := parseBoltMeta(p); ok && m.valid() {
			metas = append(metas, m)
		}
	}
	if len(metas) == 0 {
		return damaged(path, "both meta pages (the bbolt headers) fail their checksum or version check")
	}
	m := slices.MaxFunc(metas, func(a, b boltMeta) int { return cmp.Compare(a.txid, b.txid) })
	if int64(m.pageSize) != pageSize {
		return damaged(path, fmt.Sprintf("its meta pages disagree on the page size (%d and %d bytes)", pageSize, m.pageSize))
	}
	pages := uint64(size / pageSize)
	switch {
	case m.pgid < 3 || m.pgid > pages:
		return damaged(path, fmt.Sprintf("the file is %d bytes (%d pages of %d bytes) but its meta page (transaction %d) says %d pages are in use (truncated)",
			size, pages, pageSize, m.txid, m.pgid))
	case m.root < 2 || m.root >= m.pgid:
		return damaged(path, fmt.Sprintf("its meta page puts the root page at %d, outside pages 2 to %d", m.root, m.pgid-1))
	case m.freelist != boltNoFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return damaged(path, fmt.Sprintf("its meta page puts the freelist page at %d, outside pages 2 to %d", m.freelist, m.pgid-1))
	}
	if err := checkTree(path, read, m, pageSize); err != nil {
		return err
	}
	if !withFreelist || m.freelist == boltNoFreelist {
		return nil
	}
	return checkFreelist(path, read, m, pageSize)
}

// checkFreelist checks the freelist page the meta page m points to: its
// type, its length against the pages it spans, and every free page id.
func checkFreelist(path string, read func(int64, int) ([]byte, error), m boltMeta, pageSize int64) error {
	bad := func(reason string) error {
		return damaged(path, "its free-page list is damaged ("+reason+"); the checkpoints in it may still be intact: "+
			"`stackless checkpoint export` and `stackless inspect` read the file without the free-page list")
	}
	off := int64(m.freelist) * pageSize
	hdr, err := read(off, boltPageHeader+8)
	if err != nil {
		return err
	}
	if len(hdr) < boltPageHeader+8 {
		return bad("its page is cut off")
	}
	ne := binary.NativeEndian
	flags, count, overflow := ne.Uint16(hdr[8:]), uint64(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if flags != boltFreelistFlag {
		return bad(fmt.Sprintf("page %d is not a freelist page (type %#x)", m.freelist, flags))
	}
	if m.freelist+overflow >= m.pgid {
		return bad(fmt.Sprintf("it spans pages %d to %d, past the %d pages in use", m.freelist, m.freelist+overflow, m.pgid))
	}
	first := uint64(0)
	if count == 0xFFFF { // the real count is in the first element
		count, first = ne.Uint64(hdr[boltPageHeader:]), 1
	}
	span := (overflow + 1) * uint64(pageSize)
	if count > (span-boltPageHeader)/8-first {
		return bad(fmt.Sprintf("it claims %d free pages, more than its %d bytes can hold", count, span))
	}
	if count == 0 {
		return nil
	}
	body, err := read(off+boltPageHeader+int64(first)*8, int(count)*8)
	if err != nil {
		return err
	}
	if uint64(len(body)) < count*8 {
		return bad("its page is cut off")
	}
	ids := make([]uint64, count)
	for i := range ids {
		id := ne.Uint64(body[i*8:])
		if id < 2 || id >= m.pgid {
			return bad(fmt.Sprintf("free page %d is outside pages 2 to %d", id, m.pgid-1))
		}
		ids[i] = id
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return bad(fmt.Sprintf("page %d is listed twice", ids[i]))
		}
	}
	return nil
}

// whatBolt is CorruptError.What for damage to bbolt's own pages.
const whatBolt = "bbolt structure"

// damaged is the error for a database whose bbolt structure is damaged.
func damaged(path, reason string) error {
	return &CorruptError{Path: path, What: whatBolt, Offset: -1,
		Reason: reason + "; the file cannot be used as it is: restore it from a backup, or move it away to start a new database"}
}
