package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/internal/atomicfile"
)

// Snapshot file format, version 1: one msgpack array, readable by any
// msgpack tool:
//
//	[ "stackless-snapshot",            str
//	  1,                               uint: format version
//	  gen,                             uint
//	  unix nanos,                      int
//	  meta,                            bin
//	  [ [key, crc32c(value), value]... ] array of [bin, uint32, bin], sorted by key
//	  crc32c ]                         uint32 (always 0xce + 4 bytes): CRC32C of every byte before it
//
// It holds one resolved (full) generation. ReadFile does not use msgpack's
// generic decoder: parseSnapshot checks every declared length against the
// remaining bytes before it allocates, so hostile input cannot make it
// allocate much more than the file size.
const (
	snapshotMagic   = "stackless-snapshot"
	snapshotVersion = 1
	snapshotFields  = 7

	// DefaultMaxSnapshotSize is the largest snapshot file ReadFile accepts,
	// and WriteFile writes: a game of a million entities exports about
	// 1 GB, and a bound of 1 GiB would have written files of bigger games
	// that no reader took.
	DefaultMaxSnapshotSize = 4 << 30

	// minRecordEncoding is the smallest possible encoding of one records
	// element: fixarray(1) + bin8 of a 1-byte key (3) + fixint crc (1) + nil value (1).
	minRecordEncoding = 6
)

// snapshotPrefix is how every snapshot file starts: fixarray(7), fixstr(18), magic.
var snapshotPrefix = append([]byte{0x90 | snapshotFields, 0xa0 | byte(len(snapshotMagic))}, snapshotMagic...)

// crcWriter feeds everything written through it to a CRC32C.
type crcWriter struct {
	w   *bufio.Writer
	crc uint32
	one [1]byte
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	return c.w.Write(p)
}

func (c *crcWriter) WriteByte(b byte) error {
	c.one[0] = b
	c.crc = crc32.Update(c.crc, castagnoli, c.one[:])
	return c.w.WriteByte(b)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{} // EncodeBytes(nil) would write msgpack nil, not bin
	}
	return b
}

// checkSnapshot validates cp for WriteFile and returns its records sorted.
func checkSnapshot(path string, cp *Checkpoint) ([]Record, error) {
	if cp == nil {
		return nil, fmt.Errorf("store: write snapshot %s: nil checkpoint", path)
	}
	if !cp.Full() || len(cp.Deleted) > 0 {
		return nil, fmt.Errorf("store: write snapshot %s: a snapshot file holds one resolved generation, but this checkpoint is incremental (Base=%d, %d deleted keys); pass the result of DB.Load instead",
			path, cp.Base, len(cp.Deleted))
	}
	recs := cp.Records
	for i := range recs {
		if msg := checkKey(recs[i].Key); msg != "" {
			return nil, fmt.Errorf("store: write snapshot %s: record %d: %s", path, i, msg)
		}
	}
	if !slices.IsSortedFunc(recs, compareRecords) {
		recs = slices.Clone(recs)
		slices.SortFunc(recs, compareRecords)
	}
	for i := 1; i < len(recs); i++ {
		if bytes.Equal(recs[i-1].Key, recs[i].Key) {
			return nil, fmt.Errorf("store: write snapshot %s: duplicate record key %q", path, recs[i].Key)
		}
	}
	// What the bytes alone take, a lower bound of the file's size: a file
	// over the bound is refused before anything is written.
	size := int64(len(cp.Meta))
	for i := range recs {
		size += int64(len(recs[i].Key) + len(recs[i].Value))
	}
	if size > DefaultMaxSnapshotSize {
		return nil, fmt.Errorf("store: write snapshot %s: its records and meta are %d bytes, over the %d-byte snapshot limit (store.DefaultMaxSnapshotSize) that readers accept; keep the checkpoint in its database", path, size, int64(DefaultMaxSnapshotSize))
	}
	return recs, nil
}

// encodeSnapshot writes the snapshot encoding of cp (records already checked
// and sorted) to w.
func encodeSnapshot(w *bufio.Writer, cp *Checkpoint, recs []Record) error {
	cw := &crcWriter{w: w}
	enc := msgpack.NewEncoder(cw)
	t := cp.Time
	if t.IsZero() {
		t = time.Now()
	}
	errs := []error{
		enc.EncodeArrayLen(snapshotFields),
		enc.EncodeString(snapshotMagic),
		enc.EncodeUint(snapshotVersion),
		enc.EncodeUint(cp.Gen),
		enc.EncodeInt(t.UnixNano()),
		enc.EncodeBytes(nonNil(cp.Meta)),
		enc.EncodeArrayLen(len(recs)),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		if err := enc.EncodeArrayLen(3); err != nil {
			return err
		}
		if err := enc.EncodeBytes(r.Key); err != nil {
			return err
		}
		if err := enc.EncodeUint32(crc32c(r.Value)); err != nil {
			return err
		}
		if err := enc.EncodeBytes(nonNil(r.Value)); err != nil {
			return err
		}
	}
	return enc.EncodeUint32(cw.crc)
}

// WriteFile writes cp, a full (resolved) checkpoint, to a snapshot file at
// path atomically: a temporary file in the same directory is written and
// fsynced, then renamed over path, then the directory is fsynced.
// A zero cp.Time is written as the current time.
func WriteFile(path string, cp *Checkpoint) (err error) {
	recs, err := checkSnapshot(path, cp)
	if err != nil {
		return err
	}
	if err := atomicfile.Replaceable(path); err != nil { // the rename would replace a device, a FIFO
		return fmt.Errorf("store: write snapshot: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("store: write snapshot %s: %w", path, atomicfile.Failed(err, "", path))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("store: write snapshot %s: %w", path, atomicfile.Failed(err, tmp, path))
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = encodeSnapshot(w, cp, recs); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// ReadFile reads and verifies a snapshot file written by WriteFile. Files
// larger than DefaultMaxSnapshotSize are refused; see ReadFileLimit.
func ReadFile(path string) (*Checkpoint, error) {
	return ReadFileLimit(path, DefaultMaxSnapshotSize)
}

// ReadFileLimit is ReadFile with a custom maximum file size in bytes.
func ReadFileLimit(path string, maxSize int64) (*Checkpoint, error) {
	f, size, err := openSnapshot(path, maxSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("store: read snapshot %s: %w (file changed while reading?)", path, err)
	}
	return parseSnapshot(path, data)
}

// openSnapshot opens the snapshot file at path for reading and returns its
// size, refusing anything but a regular file of at most maxSize bytes.
func openSnapshot(path string, maxSize int64) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("store: read snapshot: %w", err)
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("store: read snapshot: %w", err)
	case !st.Mode().IsRegular():
		err = fmt.Errorf("store: read snapshot %s: not a regular file", path)
	case st.Size() > maxSize:
		err = fmt.Errorf("store: read snapshot %s: file is %d bytes, over the %d-byte limit; is it really a snapshot file? (raise the limit with store.ReadFileLimit)",
			path, st.Size(), maxSize)
	}
	if err != nil {
		_ = f.Close() // opened for reading only
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// IsSnapshotFile reports whether the file at path starts like a snapshot
// file. It reads only the first bytes, so it also tells a snapshot file from
// a bbolt checkpoint database cheaply.
func IsSnapshotFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	buf := make([]byte, len(snapshotPrefix))
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, fmt.Errorf("store: read %s: %w", path, err)
	}
	return bytes.Equal(buf, snapshotPrefix), nil
}

// looksLikeBolt reports whether b starts with a bbolt meta page.
func looksLikeBolt(b []byte) bool {
	return len(b) >= 20 && binary.LittleEndian.Uint32(b[16:]) == 0xED0CDAED
}

// snapParser decodes exactly the msgpack subset of the snapshot format.
// Every length is checked against the remaining input before use; values are
// returned as capacity-limited subslices of the input (no copies).
//
// b is the whole file (parseSnapshot), or, for WalkFile, a window on it:
// the file's bytes from base on, size in all. A read past the window's end
// that the file still has fails with errSnapShort, and WalkFile moves the
// window on and parses that piece again.
type snapParser struct {
	name string
	b    []byte
	off  int
	rec  int // index of the record being parsed, -1 outside the records array

	base, size int    // the window's offset in the file, and the file's size (0: b is the file)
	crc        uint32 // CRC32C of the file's bytes before base
}

// errSnapShort is a window's end, not the file's.
var errSnapShort = errors.New("store: snapshot window ends here")

// remaining is how many bytes of the file come from the parser's offset on.
func (p *snapParser) remaining() int {
	if p.size == 0 {
		return len(p.b) - p.off
	}
	return p.size - p.base - p.off
}

// label names the field being parsed in an error message. Formatting happens
// only on error paths, so parsing a valid file does not allocate per record.
func (p *snapParser) label(what string) string {
	if p.rec >= 0 && what == "" {
		return fmt.Sprintf("records[%d]", p.rec)
	}
	if p.rec >= 0 {
		return fmt.Sprintf("records[%d].%s", p.rec, what)
	}
	return what
}

func (p *snapParser) fail(at int, format string, args ...any) error {
	return &CorruptError{Path: p.name, Offset: int64(p.base + at), Reason: fmt.Sprintf(format, args...)}
}

func (p *snapParser) truncated(at int, what string, need int) error {
	if need <= p.remaining() {
		return errSnapShort
	}
	return p.fail(at, "%s needs %d more bytes but only %d remain (file truncated?)", p.label(what), need, p.remaining())
}

// need checks that n more bytes are available.
func (p *snapParser) need(at int, what string, n uint64) error {
	if n > uint64(p.remaining()) {
		return p.fail(at, "%s declares %d bytes but only %d remain (file truncated or damaged)", p.label(what), n, p.remaining())
	}
	if n > uint64(len(p.b)-p.off) {
		return errSnapShort
	}
	return nil
}

func (p *snapParser) byte1(what string) (byte, error) {
	if p.off >= len(p.b) {
		return 0, p.truncated(p.off, what, 1)
	}
	c := p.b[p.off]
	p.off++
	return c, nil
}

// uintN reads an n-byte big-endian unsigned integer (n = 1, 2, 4 or 8).
func (p *snapParser) uintN(what string, n int) (uint64, error) {
	if len(p.b)-p.off < n {
		return 0, p.truncated(p.off, what, n)
	}
	var v uint64
	for _, c := range p.b[p.off : p.off+n] {
		v = v<<8 | uint64(c)
	}
	p.off += n
	return v, nil
}

func (p *snapParser) arrayLen(what string) (int, uint64, error) {
	at := p.off
	c, err := p.byte1(what)
	if err != nil {
		return at, 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, err = p.uintN(what, 2)
	case c == 0xdd:
		n, err = p.uintN(what, 4)
	default:
		return at, 0, p.fail(at, "%s: expected a msgpack array, found type byte 0x%02x", p.label(what), c)
	}
	return at, n, err
}

// raw reads a str (str=true) or bin (nil accepted as empty) and returns it.
func (p *snapParser) raw(what string, str bool) ([]byte, error) {
	at := p.off
	c, err := p.byte1(what)
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case str && c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case str && c == 0xd9, !str && c == 0xc4:
		n, err = p.uintN(what, 1)
	case str && c == 0xda, !str && c == 0xc5:
		n, err = p.uintN(what, 2)
	case str && c == 0xdb, !str && c == 0xc6:
		n, err = p.uintN(what, 4)
	case !str && c == 0xc0:
		return []byte{}, nil
	default:
		kind := "bin"
		if str {
			kind = "str"
		}
		return nil, p.fail(at, "%s: expected msgpack %s, found type byte 0x%02x", p.label(what), kind, c)
	}
	if err != nil {
		return nil, err
	}
	if err := p.need(at, what, n); err != nil {
		return nil, err
	}
	end := p.off + int(n)
	v := p.b[p.off:end:end]
	p.off = end
	return v, nil
}

// uint reads any non-negative msgpack integer.
func (p *snapParser) uint(what string) (uint64, error) {
	at := p.off
	c, err := p.byte1(what)
	if err != nil {
		return 0, err
	}
	var v uint64
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c >= 0xcc && c <= 0xcf:
		v, err = p.uintN(what, 1<<(c-0xcc))
	case c >= 0xd0 && c <= 0xd3:
		v, err = p.uintN(what, 1<<(c-0xd0))
		if err == nil && v>>(8<<(c-0xd0)-1) != 0 {
			return 0, p.fail(at, "%s: negative, want an unsigned integer", p.label(what))
		}
	default:
		return 0, p.fail(at, "%s: expected a msgpack unsigned integer, found type byte 0x%02x", p.label(what), c)
	}
	return v, err
}

// int reads any msgpack integer that fits int64.
func (p *snapParser) int(what string) (int64, error) {
	at := p.off
	c, err := p.byte1(what)
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf:
		v, err := p.uintN(what, 1<<(c-0xcc))
		if err == nil && v > math.MaxInt64 {
			return 0, p.fail(at, "%s: %d overflows int64", p.label(what), v)
		}
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		n := 1 << (c - 0xd0)
		v, err := p.uintN(what, n)
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, err // sign-extend
	}
	return 0, p.fail(at, "%s: expected a msgpack integer, found type byte 0x%02x", p.label(what), c)
}

func (p *snapParser) uint32(what string) (uint32, error) {
	at := p.off
	v, err := p.uint(what)
	if err == nil && v > math.MaxUint32 {
		return 0, p.fail(at, "%s: %d does not fit 32 bits", p.label(what), v)
	}
	return uint32(v), err
}

// parseSnapshot decodes and verifies a snapshot file's bytes; name is used
// in errors. The returned slices point into data.
func parseSnapshot(name string, data []byte) (*Checkpoint, error) {
	p := &snapParser{name: name, b: data, rec: -1}
	cp, n, err := p.header()
	if err != nil {
		return nil, err
	}
	cp.Records = make([]Record, 0, int(n))
	var prev []byte
	for i := 0; i < int(n); i++ {
		key, val, err := p.record(i, prev)
		if err != nil {
			return nil, err
		}
		prev = key
		cp.Records = append(cp.Records, Record{Key: key, Value: val})
	}
	if err := p.trailer(); err != nil {
		return nil, err
	}
	return cp, nil
}

// header parses everything before the records: the checkpoint without
// them, and how many there are.
func (p *snapParser) header() (*Checkpoint, uint64, error) {
	notSnap := func(err error) error {
		if errors.Is(err, errSnapShort) {
			return err
		}
		hint := ""
		if looksLikeBolt(p.b) {
			hint = "; it looks like a bbolt checkpoint database: open it with store.Open"
		}
		return p.fail(0, "not a stackless snapshot file (bad magic)%s", hint)
	}
	_, fields, err := p.arrayLen("file")
	if err != nil {
		if p.size == 0 && len(p.b) == 0 {
			return nil, 0, p.fail(0, "empty file")
		}
		return nil, 0, notSnap(err)
	}
	magic, err := p.raw("magic", true)
	if err != nil || string(magic) != snapshotMagic {
		return nil, 0, notSnap(err)
	}
	at := p.off
	version, err := p.uint("format version")
	if err != nil {
		return nil, 0, err
	}
	if version != snapshotVersion {
		if version > snapshotVersion {
			return nil, 0, fmt.Errorf("%w: snapshot file %s has format version %d; this build reads version %d; upgrade stackless",
				ErrVersion, p.name, version, snapshotVersion)
		}
		return nil, 0, p.fail(at, "format version %d is invalid", version)
	}
	if fields != snapshotFields {
		return nil, 0, p.fail(0, "file array has %d fields, format version 1 has %d", fields, snapshotFields)
	}
	cp := &Checkpoint{}
	if cp.Gen, err = p.uint("generation"); err != nil {
		return nil, 0, err
	}
	nanos, err := p.int("time")
	if err != nil {
		return nil, 0, err
	}
	cp.Time = time.Unix(0, nanos)
	meta, err := p.raw("meta", false)
	if err != nil {
		return nil, 0, err
	}
	if len(meta) > 0 {
		cp.Meta = meta
	}
	at, n, err := p.arrayLen("records")
	if err != nil {
		return nil, 0, err
	}
	// Bound the allocation by the input actually present.
	if n > uint64(p.remaining())/minRecordEncoding {
		return nil, 0, p.fail(at, "records array declares %d records but only %d bytes remain (file truncated or damaged)", n, p.remaining())
	}
	return cp, n, nil
}

// record parses records[i], whose key must come after prev (nil: i is 0).
func (p *snapParser) record(i int, prev []byte) (key, val []byte, err error) {
	p.rec = i
	at, m, err := p.arrayLen("")
	if err != nil {
		return nil, nil, err
	}
	if m != 3 {
		return nil, nil, p.fail(at, "records[%d] has %d fields, want 3 (key, crc, value)", i, m)
	}
	at = p.off
	if key, err = p.raw("key", false); err != nil {
		return nil, nil, err
	}
	if msg := checkKey(key); msg != "" {
		return nil, nil, p.fail(at, "records[%d]: %s", i, msg)
	}
	if prev != nil && bytes.Compare(prev, key) >= 0 {
		return nil, nil, p.fail(at, "records[%d]: key %q is not after the previous key %q (records must be sorted and unique)", i, key, prev)
	}
	crc, err := p.uint32("crc")
	if err != nil {
		return nil, nil, err
	}
	at = p.off
	if val, err = p.raw("value", false); err != nil {
		return nil, nil, err
	}
	if got := crc32c(val); got != crc {
		return nil, nil, p.fail(at, "records[%d] (key %q): value checksum mismatch (stored %08x, computed %08x)", i, key, crc, got)
	}
	return key, val, nil
}

// trailer checks the file checksum that ends the file.
func (p *snapParser) trailer() error {
	p.rec = -1
	at := p.off
	want := crc32.Update(p.crc, castagnoli, p.b[:at])
	c, err := p.byte1("file checksum")
	if err != nil {
		return err
	}
	if c != 0xce {
		return p.fail(at, "file checksum: expected msgpack uint32 (0xce), found type byte 0x%02x", c)
	}
	v, err := p.uintN("file checksum", 4)
	if err != nil {
		return err
	}
	if uint32(v) != want {
		return p.fail(at, "file checksum mismatch (stored %08x, computed %08x)", v, want)
	}
	if p.remaining() != 0 {
		return p.fail(p.off, "%d unexpected bytes after the end of the snapshot", p.remaining())
	}
	return nil
}
