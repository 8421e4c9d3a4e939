package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Segment layout (format version 2). A generation's records are packed in
// key order into segments of about segmentTarget bytes; each segment is one
// bbolt value (type recSegment, so it carries a CRC32C over its bbolt key
// and payload) stored under the key of its first entry. The payload is a
// sequence of entries:
//
//	[0]    entry type: recData or recTombstone
//	[1:3]  key length, uint16 big endian (1..MaxKeySize)
//	[3:7]  value length, uint32 big endian (0 for a tombstone)
//	[7:]   key, then value
//
// Keys ascend strictly within a segment and across the segments of a
// generation. A full checkpoint of 100,000 small records is then ~1,000
// bbolt Puts instead of 100,000: bbolt's per-key work (cursor seeks, node
// inserts, page splits) was half the cost of a checkpoint.
const (
	entryHeaderSize = 7

	// segmentTarget is the payload size at which a segment is sealed: big
	// enough that per-Put costs stay small, small enough that two segments
	// and the last record of each fill one 16 KiB page. bbolt writes a leaf
	// of one page from a pool of pages, but allocates a fresh buffer for a
	// leaf of several: with 64 KiB segments a checkpoint of 100,000
	// tasklets allocated 10 MB that way, and the collector's work it caused
	// was a quarter of the checkpoint's instructions. A record larger than
	// this ends its segment.
	segmentTarget = 7 << 10

	// maxSegmentOverhead is what a segment adds around its largest record.
	maxSegmentOverhead = valueHeaderSize + segmentTarget + entryHeaderSize + MaxKeySize
)

// segWriter packs entries, given in strictly ascending key order, into
// segments carved from one buffer; seal checksums a finished segment. After
// an error the writer holds a half-written entry and must be dropped.
type segWriter struct {
	buf       []byte
	spans     []segSpan
	open      int    // offset in buf of the open segment's value, -1 if none
	last      []byte // key of the previous entry (nil before the first)
	maxRecord int
	h         genHeader // nrec, ndel, recBytes, delBytes of what was added
	key       []byte    // scratch for callers building keys

	retired                      [][]byte // buffers full before this one (room)
	chunkStart, minChunk, chunks int      // room's measure of the chunks written
	region                       int      // of the chunk measured: tasklets' or channels
}

// segSpan locates one sealed segment in segWriter.buf.
type segSpan struct{ off, end, keyLen int }

func newSegWriter(buf []byte, maxRecord int) *segWriter {
	return &segWriter{buf: buf[:0], open: -1, maxRecord: maxRecord, chunkStart: -1, minChunk: math.MaxInt, region: -1}
}

// begin starts an entry for key; its value is appended to w.buf by the
// caller and closed by end. It checks the key order.
func (w *segWriter) begin(typ recType, key []byte) (int, error) {
	if msg := checkKey(key); msg != "" {
		return 0, fmt.Errorf("%s", msg)
	}
	if w.last != nil {
		switch c := bytes.Compare(w.last, key); {
		case c == 0:
			return 0, fmt.Errorf("duplicate record key %q; each key may appear once per checkpoint", key)
		case c > 0:
			return 0, fmt.Errorf("key %q comes after %q; records must be in ascending key order", key, w.last)
		}
	}
	if w.open < 0 {
		w.open = len(w.buf)
		w.buf = append(w.buf, 0, 0, 0, 0, byte(recSegment)) // CRC filled by seal
	}
	w.buf = append(w.buf, byte(typ), byte(len(key)>>8), byte(len(key)), 0, 0, 0, 0)
	w.buf = append(w.buf, key...)
	w.last = w.buf[len(w.buf)-len(key):]
	return len(w.buf), nil
}

// end closes the entry begun at start (the offset begin returned): it fills
// in the value length and seals the segment once it reaches segmentTarget.
func (w *segWriter) end(typ recType, start int) error {
	n := len(w.buf) - start
	key := w.last
	if n > w.maxRecord {
		return fmt.Errorf("value is %d bytes, over the %d-byte limit; raise it with store.WithMaxRecord", n, w.maxRecord)
	}
	binary.BigEndian.PutUint32(w.buf[start-len(key)-4:], uint32(n))
	if typ == recData {
		w.h.nrec++
		w.h.recBytes += uint64(len(key) + n)
	} else {
		w.h.ndel++
		w.h.delBytes += uint64(len(key))
	}
	if len(w.buf)-w.open-valueHeaderSize >= segmentTarget {
		w.seal()
	}
	return nil
}

// room makes room, before a chunk of a world, for it and the chunks after
// it in its region (left of them, the tasklets' or the channels', shared
// by workers writers), guessed from the smallest of the region's chunks
// this writer wrote, once it wrote two: a game's world tasklet, one 90 MB
// record among a million of 950 bytes, is an outlier no average should
// extrapolate, and so is the chunk of 1,000 channels each queueing 100
// waiters before 100,000 small tasklets. A buffer short of room is not
// grown but retired, its sealed segments left where they are (the caller
// took them), and a new one started, at most twice its size (which bounds
// what a wrong guess costs). A first checkpoint's size hint is a guess
// from the counts alone: a world of bigger tasklets grew the buffer a
// quarter at a time, copying all of it nine times, and touching five
// times its size in fresh pages.
func (w *segWriter) room(left, workers, region int) {
	if w.open >= 0 {
		return
	}
	if region != w.region { // tasklets and channels differ: measure anew
		w.region, w.chunkStart, w.minChunk, w.chunks = region, -1, math.MaxInt, 0
	}
	if w.chunkStart >= 0 {
		w.minChunk = min(w.minChunk, len(w.buf)-w.chunkStart)
		w.chunks++
	}
	w.chunkStart = len(w.buf)
	if w.chunks < 2 { // the first chunk alone may be the outlier
		return
	}
	need := w.minChunk * ((left + workers - 1) / workers)
	if cap(w.buf)-len(w.buf) >= need {
		return
	}
	w.retired = append(w.retired, w.buf)
	w.buf = make([]byte, 0, min(need+need/8, 2*cap(w.buf)))
	w.spans, w.last, w.chunkStart = w.spans[:0], nil, 0
}

// bufs is every buffer the writer wrote into, retired or current.
func (w *segWriter) bufs() [][]byte { return append(w.retired, w.buf) }

// add appends one entry with a known value.
func (w *segWriter) add(typ recType, key, value []byte) error {
	start, err := w.begin(typ, key)
	if err != nil {
		return err
	}
	w.buf = append(w.buf, value...)
	if err := w.end(typ, start); err != nil {
		return fmt.Errorf("record %q: %w", key, err)
	}
	return nil
}

// seal closes the open segment, if any, and checksums it.
func (w *segWriter) seal() {
	if w.open < 0 {
		return
	}
	v := w.buf[w.open:]
	keyLen := int(binary.BigEndian.Uint16(v[valueHeaderSize+1:]))
	key := v[valueHeaderSize+entryHeaderSize:][:keyLen]
	binary.BigEndian.PutUint32(v, valueCRC(key, v[4:]))
	w.spans = append(w.spans, segSpan{off: w.open, end: len(w.buf), keyLen: keyLen})
	w.open = -1
}

// segments seals the open segment and appends every segment to dst.
func (w *segWriter) segments(dst []segment) []segment {
	w.seal()
	return w.appendSegments(dst, 0, len(w.spans))
}

// appendSegments appends sealed segments from..to-1 to dst as bbolt key and
// value, both subslices of the writer's buffer (valid until it is reused).
func (w *segWriter) appendSegments(dst []segment, from, to int) []segment {
	for _, s := range w.spans[from:to] {
		v := w.buf[s.off:s.end:s.end]
		k := v[valueHeaderSize+entryHeaderSize:][:s.keyLen:s.keyLen]
		dst = append(dst, segment{key: k, value: v})
	}
	return dst
}

// segment is one stored segment: its bbolt key (its first entry's key) and
// its whole stored value.
type segment struct{ key, value []byte }

// segReader walks the entries of one segment's payload (after its checksum
// was verified), checking every length and the key order.
type segReader struct {
	p    []byte // entries not yet read
	prev []byte // key of the previous entry of the generation, nil at its start
	n    int    // entries read from this segment
}

// next returns the next entry; ok is false at the end of the segment.
// segKey is the segment's bbolt key, which must equal its first entry's key.
func (r *segReader) next(segKey []byte) (typ recType, key, value []byte, ok bool, err error) {
	if len(r.p) == 0 {
		if r.n == 0 {
			return 0, nil, nil, false, fmt.Errorf("empty segment")
		}
		return 0, nil, nil, false, nil
	}
	if len(r.p) < entryHeaderSize {
		return 0, nil, nil, false, fmt.Errorf("entry %d: %d bytes left, shorter than an entry header (truncated)", r.n, len(r.p))
	}
	typ = recType(r.p[0])
	kl := int(binary.BigEndian.Uint16(r.p[1:]))
	vl := uint64(binary.BigEndian.Uint32(r.p[3:]))
	rest := r.p[entryHeaderSize:]
	switch {
	case typ != recData && typ != recTombstone:
		return 0, nil, nil, false, fmt.Errorf("entry %d: unknown entry type %d", r.n, byte(typ))
	case kl == 0 || kl > MaxKeySize:
		return 0, nil, nil, false, fmt.Errorf("entry %d: key length %d is outside 1..%d", r.n, kl, MaxKeySize)
	case uint64(kl)+vl > uint64(len(rest)):
		return 0, nil, nil, false, fmt.Errorf("entry %d: key and value of %d bytes run past the segment's end (%d bytes left)", r.n, uint64(kl)+vl, len(rest))
	case typ == recTombstone && vl != 0:
		return 0, nil, nil, false, fmt.Errorf("entry %d: tombstone with a %d-byte value", r.n, vl)
	}
	key, value = rest[:kl:kl], rest[kl:kl+int(vl):kl+int(vl)]
	if r.n == 0 && !bytes.Equal(key, segKey) {
		return 0, nil, nil, false, fmt.Errorf("first entry's key %q differs from the segment's key", key)
	}
	if r.prev != nil && bytes.Compare(r.prev, key) >= 0 {
		return 0, nil, nil, false, fmt.Errorf("entry %d: key %q does not come after %q", r.n, key, r.prev)
	}
	r.p = rest[kl+int(vl):]
	r.prev = key
	r.n++
	return typ, key, value, true, nil
}
