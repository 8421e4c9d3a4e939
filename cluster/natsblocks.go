package cluster

// A check of the embedded server's message blocks before it reads them.
// The NATS server (v2.15.2 and v2.15.3) trusts a stream's saved index
// (msgs/index.db) and checks a record's checksum only when it reads the
// message. Two faults followed from one damaged record:
//   - a record whose sequence was damaged to one far ahead: indexing the
//     block fills the gap up to it in memory: `checkpoint ls` grew by
//     150 MB a second (with v2.15.3 the kernel killed it at 24 GB within
//     15 s), and `cluster up` never started (a bit-flipped journal block);
//   - a record of a KV bucket whose checksum fails: a listing of the
//     bucket never finished, and every command timed out after 30 s with
//     "context deadline exceeded" (bit flips in the manifests' block).
//
// Without the saved index the server rebuilds the stream from its blocks,
// checking every checksum, and drops the first damaged record and those
// after it in its block. So every record is checked here (HighwayHash runs
// at gigabytes a second: BenchmarkBlockCheck, 100 MB in the page cache in
// 21 ms, 200,000 small records in 17 ms),
// and for a stream with a damaged one the saved index is removed, so that
// the server rebuilds it. What it then drops is named: by a note naming
// the record, by the audit (generations lost, jsaudit.go), and for the
// journal by the coordinator's log.

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
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
	blkBuf      = 1 << 20  // the read buffer of the check
)

// ErrDamagedBlock is returned when a damaged message block of the embedded
// server's store cannot be handed to the server to rebuild.
var ErrDamagedBlock = errors.New("cluster: a damaged file in the NATS store")

// checkBlocks checks the message blocks under the store folder dir. For
// each stream with a damaged record it removes the stream's saved index,
// so that the server rebuilds it, and returns a note naming the record.
// It fails only if such an index cannot be removed.
func checkBlocks(dir string) ([]string, error) {
	streams, err := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "*"))
	if err != nil {
		return nil, nil // a bad pattern cannot happen; the server reads what it finds
	}
	var notes []string
	for _, sd := range streams {
		blocks, _ := filepath.Glob(filepath.Join(sd, "msgs", "*.blk"))
		stream := filepath.Base(sd)
		for _, path := range blocks {
			bad, ok := checkBlock(path)
			if !ok {
				continue
			}
			index := filepath.Join(sd, "msgs", "index.db")
			if err := os.Remove(index); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return notes, fmt.Errorf("%w: %s: the record at byte %d fails its checksum, and the stream's index %s, which would make the server rebuild it, cannot be removed: %w",
					ErrDamagedBlock, path, bad.off, index, err)
			}
			notes = append(notes, fmt.Sprintf("Filestore [%s] corrupt record in %s at byte %d (sequence %d; its checksum fails): "+
				"the stream's index was removed, so the server rebuilds the stream and drops that record and the ones after it in the block",
				stream, path, bad.off, bad.seq))
			break // the rebuild covers every block of the stream
		}
	}
	return notes, nil
}

// badRecord is a record whose checksum fails.
type badRecord struct {
	off int64
	seq uint64
}

// checkBlock walks the records of one block and reports the first whose
// checksum fails. A block it cannot read, or one with a malformed header,
// is left to the server, which rebuilds it itself. The block is read in
// order through one buffer: a read a record cost 3.2 us a record in a
// journal of small ones (0.64 s for 200,000 at every start).
func checkBlock(path string) (badRecord, bool) {
	index, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".blk"), 10, 32)
	if err != nil {
		return badRecord{}, false
	}
	stream := filepath.Base(filepath.Dir(filepath.Dir(path)))
	f, err := os.Open(path)
	if err != nil {
		return badRecord{}, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return badRecord{}, false
	}
	key := sha256.Sum256(fmt.Appendf(nil, "%s-%d", stream, index))
	hh, err := highwayhash.New64(key[:])
	if err != nil {
		return badRecord{}, false
	}
	size := st.Size()
	le := binary.LittleEndian
	r := bufio.NewReaderSize(f, int(min(max(size, 4<<10), blkBuf)))
	var big []byte // a record longer than r's buffer
	for off := int64(0); off+blkHdrSize <= size; {
		hdr, err := r.Peek(blkHdrSize)
		if err != nil {
			return badRecord{}, false
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
			return badRecord{}, false // malformed: the server takes the block for corrupt and rebuilds it
		}
		var rec []byte
		if int(rl) <= r.Size() {
			rec, err = r.Peek(int(rl))
		} else {
			if cap(big) < int(rl) {
				big = make([]byte, rl)
			}
			rec = big[:rl]
			_, err = io.ReadFull(r, rec)
		}
		if err != nil {
			return badRecord{}, false
		}
		if !recordSumOK(hh, rec, slen, headers) {
			return badRecord{off: off, seq: seq &^ (blkTomb | blkErased)}, true
		}
		if int(rl) <= r.Size() {
			_, _ = r.Discard(int(rl)) // peeked whole: cannot fail
		}
		off += int64(rl)
	}
	return badRecord{}, false
}

// recordSumOK reports whether the record rec carries the checksum of its
// contents; hh is keyed for its block.
func recordSumOK(hh hash.Hash64, rec []byte, slen int, headers bool) bool {
	data := rec[blkHdrSize:]
	dlen := len(data)
	hh.Reset()
	hh.Write(rec[4:20])
	hh.Write(data[:slen])
	if headers {
		hh.Write(data[slen+4 : dlen-blkHashSize])
	} else {
		hh.Write(data[slen : dlen-blkHashSize])
	}
	// Sum appends Sum64 little-endian; compared as a number, no buffer
	// escapes (an allocation a record).
	return hh.Sum64() == binary.LittleEndian.Uint64(data[dlen-blkHashSize:])
}
