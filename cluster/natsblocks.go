package cluster

// A check of the embedded server's message blocks before it reads them.
// The NATS server (v2.15.2 and v2.15.3) indexes a block without checking
// its records' checksums, and fills the gap up to each record's sequence
// number in memory: a damaged record that names a sequence far ahead made
// `checkpoint ls` and `cluster up` grow by 150 MB a second until the
// kernel killed them (24 GB in 15 s, seen with a bit-flipped block of the
// effect journal). Such a record is refused here, naming the file, before
// the server starts. Damage the server handles itself (a record it finds
// malformed, or one close to its neighbours) is left to it, and the audit
// (jsaudit.go) names what it then drops.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minio/highwayhash"
)

// The record layout of the server's file store (filestore.go): a 22-byte
// header (length with a has-headers bit, sequence with tombstone and
// erased bits, timestamp, subject length), subject, headers, payload,
// and an 8-byte HighwayHash-64 keyed by the stream's name and the block's
// index.
const (
	blkHdrSize  = 22
	blkHashSize = 8
	blkHeaders  = 1 << 31
	blkErased   = 1 << 63
	blkTomb     = 1 << 62
	blkMaxRec   = 32 << 20 // the server's own bound on a record
	// maxHole is the widest gap to a record's sequence that is taken on
	// trust: the server then holds about 4 bytes a sequence. Wider gaps
	// are legitimate after compaction, so a record beyond one is refused
	// only if its checksum fails too.
	maxHole = 1 << 20
)

// ErrDamagedBlock is returned when a message block of the embedded
// server's store is damaged in a way the server cannot survive reading.
var ErrDamagedBlock = errors.New("cluster: a damaged file in the NATS store")

// blockError names the damaged record.
type blockError struct {
	path        string
	off         int64
	seq, before uint64
}

func (e *blockError) Error() string {
	return fmt.Sprintf("%v: %s: the record at byte %d fails its checksum and names sequence %d, %d past the one before it: "+
		"the NATS server would fill that gap in memory until the machine runs out. Move the file out of the store "+
		"(the server then starts without the records it held: for the effect journal, calls whose results they held may run again; "+
		"for the checkpoints, the generations they held are named as lost) or put the store back from a backup",
		ErrDamagedBlock, e.path, e.off, e.seq, e.seq-e.before)
}

func (e *blockError) Unwrap() error { return ErrDamagedBlock }

// checkBlocks checks every message block under the store folder dir.
func checkBlocks(dir string) error {
	blocks, err := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "*", "msgs", "*.blk"))
	if err != nil {
		return nil // a bad pattern cannot happen; the server reads what it finds
	}
	for _, path := range blocks {
		if err := checkBlock(path); err != nil {
			return err
		}
	}
	return nil
}

// checkBlock walks the record headers of one block (reading a whole record
// only to check one that jumps ahead) and returns a *blockError for a
// record the server would fill a gap of more than maxHole for and whose
// checksum fails. A block it cannot read or parse is left to the server,
// which rebuilds it.
func checkBlock(path string) error {
	index, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".blk"), 10, 32)
	if err != nil {
		return nil
	}
	stream := filepath.Base(filepath.Dir(filepath.Dir(path)))
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	size := st.Size()
	le := binary.LittleEndian
	var hdr [blkHdrSize]byte
	var last uint64
	first := true
	for off := int64(0); off+blkHdrSize <= size; {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return nil
		}
		rl, seq, slen := le.Uint32(hdr[0:]), le.Uint64(hdr[4:]), int(le.Uint16(hdr[20:]))
		headers := rl&blkHeaders != 0
		rl &^= blkHeaders
		shlen := slen
		if headers {
			shlen += 4
		}
		dlen := int(rl) - blkHdrSize
		if dlen < 0 || shlen > dlen-blkHashSize || off+int64(rl) > size || rl > blkMaxRec {
			return nil // malformed: the server takes the block for corrupt and rebuilds it, checking every record
		}
		if seq&blkTomb == 0 {
			seq &^= blkErased
			switch {
			case first:
				// The server checks the first against the block's state.
				first, last = false, seq
			case seq > last:
				if seq-last > maxHole && !recordSumOK(f, off, int(rl), slen, headers, stream, uint32(index)) {
					return &blockError{path: path, off: off, seq: seq, before: last}
				}
				last = seq
			}
		}
		off += int64(rl)
	}
	return nil
}

// recordSumOK reports whether the record of length rl at off in the block
// of the given stream and index carries the checksum of its contents.
func recordSumOK(f io.ReaderAt, off int64, rl, slen int, headers bool, stream string, index uint32) bool {
	rec := make([]byte, rl)
	if _, err := f.ReadAt(rec, off); err != nil {
		return false
	}
	key := sha256.Sum256(fmt.Appendf(nil, "%s-%d", stream, index))
	hh, err := highwayhash.New64(key[:])
	if err != nil {
		return false
	}
	data := rec[blkHdrSize:]
	dlen := len(data)
	hh.Write(rec[4:20])
	hh.Write(data[:slen])
	if headers {
		hh.Write(data[slen+4 : dlen-blkHashSize])
	} else {
		hh.Write(data[slen : dlen-blkHashSize])
	}
	return bytes.Equal(hh.Sum(nil), data[dlen-blkHashSize:])
}
