package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// Record is one keyed, opaque value of a checkpoint (a tasklet, a channel...).
type Record struct {
	Key   []byte
	Value []byte
}

// Checkpoint is one generation as handed to Save or returned by Load.
type Checkpoint struct {
	Gen     uint64    // set by Save (next number, starting at 1); ignored on input
	Base    uint64    // for an incremental checkpoint: the generation it applies on top of (must exist); 0 = full
	Time    time.Time // set by Save if zero
	Meta    []byte    // opaque header (world header: clock, counters, run queue...), stored whole per generation
	Records []Record  // full: every record; incremental: only new/changed records
	Deleted [][]byte  // incremental only: keys removed since Base
}

// Full reports whether c is a full checkpoint (it does not depend on a base generation).
func (c *Checkpoint) Full() bool { return c.Base == 0 }

// GenInfo describes a stored generation without loading its records.
type GenInfo struct {
	Gen, Base uint64
	Time      time.Time
	Records   int   // records stored in this generation (for an incremental: only new/changed ones)
	Deleted   int   // tombstones stored in this generation
	Bytes     int64 // payload bytes: record keys and values, deleted keys and meta
}

// MaxKeySize is the largest accepted record key, in bytes.
const MaxKeySize = 1024

var (
	// ErrEmpty is returned by Latest when the database holds no generation.
	ErrEmpty = errors.New("store: no checkpoint")
	// ErrCorrupt is wrapped by every error that reports damaged stored bytes
	// (see CorruptError for the details: which file, generation, key or offset).
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrLocked is returned by Open when another process (or another Open in
	// this process) holds the database file.
	ErrLocked = errors.New("store: file is locked by another process")
	// ErrNotFound is returned when a generation does not exist.
	ErrNotFound = errors.New("store: no such generation")
	// ErrVersion is returned for a database or snapshot file written by a
	// newer, incompatible format version, and for a database of the older
	// format (version 1, one value per record).
	ErrVersion = errors.New("store: unsupported format version")
)

// CorruptError describes damaged stored bytes. It unwraps to ErrCorrupt.
type CorruptError struct {
	Path   string // database or snapshot file
	Gen    uint64 // generation holding the damage (database only; 0 if not tied to a generation)
	Key    []byte // damaged record's key (for a segment: its first key), nil when the damage is not in a record
	What   string // what is damaged: "meta", "generation header", ...; "segment" with Key set
	Offset int64  // byte offset in a snapshot file; -1 for damage inside a database
	Reason string // what is wrong, e.g. "checksum mismatch"
}

func (e *CorruptError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("store: corrupt snapshot file %s at byte %d: %s; the file cannot be used: take a new snapshot or use a backup copy",
			e.Path, e.Offset, e.Reason)
	}
	what := e.What
	switch {
	case e.Key != nil && e.What != "":
		what = fmt.Sprintf("%s from %s", e.What, keyName(e.Key)) // e.g. a segment of records, named by its first key
	case e.Key != nil:
		what = keyName(e.Key)
	}
	if e.What == whatBolt {
		return fmt.Sprintf("store: checkpoint database %s is damaged: %s", e.Path, e.Reason)
	}
	if e.Gen == 0 {
		return fmt.Sprintf("store: corrupt record %s in %s: %s", what, e.Path, e.Reason)
	}
	return fmt.Sprintf("store: corrupt record %s in generation %d of %s: %s; an older generation may be intact (`stackless checkpoint ls` lists them, `stackless inspect --gen N` reads one)",
		what, e.Gen, e.Path, e.Reason)
}

// keyName names a record's key as inspect shows it (tasklet t5, channel
// ch7), or quotes a key of another shape.
func keyName(k []byte) string {
	switch tag, id, err := pickle.ParseKey(k); {
	case err != nil:
		return fmt.Sprintf("%q", k)
	case tag == 't':
		return "tasklet " + tasklet.ID(id).String()
	default:
		return "channel " + tasklet.ChanID(id).String()
	}
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Stored value layout (every value in the database):
//
//	[0:4] CRC32C (Castagnoli), big endian, of key || value[4:]
//	[4]   record type (one of the rec* constants)
//	[5:]  payload
//
// The checksum covers the bbolt key too, so a damaged key or a value that
// ended up under the wrong key is detected, not only a damaged value.
const valueHeaderSize = 5

type recType byte

const (
	recData      recType = 1 // a record: an entry of a segment (format 1: a whole value)
	recTombstone recType = 2 // a deleted key: an entry of a segment with no value
	recMeta      recType = 3 // a generation's Meta, in the meta bucket
	recGenHeader recType = 4 // a generation header, in the gens bucket
	recFormat    recType = 5 // the database format version, in the info bucket
	recSegment   recType = 6 // a segment of records and tombstones, in a generation bucket (see segment.go)
	recTypeMax           = recSegment
)

func (t recType) String() string {
	switch t {
	case recData:
		return "record"
	case recTombstone:
		return "tombstone"
	case recMeta:
		return "meta"
	case recGenHeader:
		return "generation header"
	case recFormat:
		return "format"
	case recSegment:
		return "segment"
	}
	return fmt.Sprintf("type %d", byte(t))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// valueCRC is the checksum stored in a value: over the key, then type and payload.
func valueCRC(key, typeAndPayload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, key), castagnoli, typeAndPayload)
}

// putValue encodes (typ, payload) for key into dst, which must be exactly
// valueHeaderSize+len(payload) bytes long.
func putValue(dst, key []byte, typ recType, payload []byte) {
	dst[4] = byte(typ)
	copy(dst[valueHeaderSize:], payload)
	binary.BigEndian.PutUint32(dst, valueCRC(key, dst[4:]))
}

// encodeValue returns a newly allocated stored value for key.
func encodeValue(key []byte, typ recType, payload []byte) []byte {
	v := make([]byte, valueHeaderSize+len(payload))
	putValue(v, key, typ, payload)
	return v
}

// decodeValue checks one stored value read under key and returns its type and
// payload (a subslice of v). It never returns bytes whose checksum did not
// match. The error is a bare reason; callers wrap it in a CorruptError.
func decodeValue(key, v []byte) (recType, []byte, error) {
	if len(v) < valueHeaderSize {
		return 0, nil, fmt.Errorf("stored value is %d bytes, shorter than its %d-byte checksum and type header (truncated)", len(v), valueHeaderSize)
	}
	want := binary.BigEndian.Uint32(v)
	if got := valueCRC(key, v[4:]); got != want {
		return 0, nil, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	t := recType(v[4])
	if t == 0 || t > recTypeMax {
		return 0, nil, fmt.Errorf("unknown record type %d (written by a newer stackless?)", byte(t))
	}
	return t, v[valueHeaderSize:], nil
}

// genHeader is the fixed binary payload stored in the gens bucket.
type genHeader struct {
	base     uint64
	nanos    int64
	nrec     uint64 // data records in the generation bucket
	ndel     uint64 // tombstones in the generation bucket
	recBytes uint64 // sum of len(key)+len(value) of the data records
	delBytes uint64 // sum of len(key) of the tombstones
	metaLen  uint64 // len(Meta)
}

const genHeaderSize = 7 * 8

func (h *genHeader) marshal() []byte {
	b := make([]byte, genHeaderSize)
	binary.BigEndian.PutUint64(b[0:], h.base)
	binary.BigEndian.PutUint64(b[8:], uint64(h.nanos))
	binary.BigEndian.PutUint64(b[16:], h.nrec)
	binary.BigEndian.PutUint64(b[24:], h.ndel)
	binary.BigEndian.PutUint64(b[32:], h.recBytes)
	binary.BigEndian.PutUint64(b[40:], h.delBytes)
	binary.BigEndian.PutUint64(b[48:], h.metaLen)
	return b
}

func (h *genHeader) unmarshal(b []byte) error {
	if len(b) != genHeaderSize {
		return fmt.Errorf("generation header is %d bytes, want %d", len(b), genHeaderSize)
	}
	h.base = binary.BigEndian.Uint64(b[0:])
	h.nanos = int64(binary.BigEndian.Uint64(b[8:]))
	h.nrec = binary.BigEndian.Uint64(b[16:])
	h.ndel = binary.BigEndian.Uint64(b[24:])
	h.recBytes = binary.BigEndian.Uint64(b[32:])
	h.delBytes = binary.BigEndian.Uint64(b[40:])
	h.metaLen = binary.BigEndian.Uint64(b[48:])
	return nil
}

func (h *genHeader) info(gen uint64) GenInfo {
	return GenInfo{
		Gen:     gen,
		Base:    h.base,
		Time:    time.Unix(0, h.nanos),
		Records: int(h.nrec),
		Deleted: int(h.ndel),
		Bytes:   int64(h.recBytes + h.delBytes + h.metaLen),
	}
}

// checkKey validates a record key for Save and WriteFile; i is its index.
func checkKey(k []byte) string {
	if len(k) == 0 {
		return "empty key; every record needs a non-empty key"
	}
	if len(k) > MaxKeySize {
		return fmt.Sprintf("key %q... is %d bytes; keys are limited to %d bytes", k[:32], len(k), MaxKeySize)
	}
	return ""
}
