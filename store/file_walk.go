package store

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
)

// walkWindow is the size WalkFile's window on the file starts at; a piece
// bigger than that (a big meta or record) grows it.
var walkWindow = 256 << 10

// WalkFile reads the snapshot file at path as ReadFile does, with every
// check ReadFile makes, but through a window of a few hundred KiB instead
// of all of it at once: start gets the checkpoint without its Records,
// then fn each record in key order. key and value are valid only during
// fn: copy what you keep. Damage is found as the walk reaches it (the file
// checksum at the very end), so fn may have seen records before WalkFile
// returns the error: to act only on a file that is whole, walk it once
// with an fn that does nothing first, through one SnapshotFile (WalkFile
// opens path again each time, and a snapshot written meanwhile replaces
// the file there). An error of start or fn stops the walk and is returned
// as is. Files over DefaultMaxSnapshotSize are refused, as by ReadFile.
func WalkFile(path string, start func(*Checkpoint) error, fn func(key, value []byte) error) error {
	s, err := OpenSnapshotFile(path)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Walk(start, fn)
}

// SnapshotFile is a snapshot file open for walking it more than once.
// WriteFile replaces a snapshot by renaming a new file over its path; the
// open file is still the old one, so every walk of a SnapshotFile sees the
// same snapshot, however many were written to its path meanwhile.
type SnapshotFile struct {
	f    *os.File
	path string
	size int64 // at open: a file changed in place fails the walk, not grows it
}

// OpenSnapshotFile opens the snapshot file at path for Walk, refusing
// anything but a regular file of at most DefaultMaxSnapshotSize bytes, as
// ReadFile does. It reads nothing yet: the walks check the contents.
func OpenSnapshotFile(path string) (*SnapshotFile, error) {
	f, size, err := openSnapshot(path, DefaultMaxSnapshotSize)
	if err != nil {
		return nil, err
	}
	return &SnapshotFile{f: f, path: path, size: size}, nil
}

// Close closes the file.
func (s *SnapshotFile) Close() error { return s.f.Close() }

// Walk walks the file from its start, with WalkFile's checks and
// callbacks. It reads at offsets (ReadAt), not from the file's position,
// so walks may follow one another or run at once.
func (s *SnapshotFile) Walk(start func(*Checkpoint) error, fn func(key, value []byte) error) error {
	size := int(s.size)
	w := &snapWindow{r: io.NewSectionReader(s.f, 0, s.size), path: s.path, p: snapParser{name: s.path, rec: -1, size: size}}
	// At least the bytes that tell a bbolt file (looksLikeBolt) at once.
	w.buf = make([]byte, 0, min(max(walkWindow, 64), size))
	w.p.b = w.buf

	var cp *Checkpoint
	var n uint64
	if err := w.parse(func() (err error) { cp, n, err = w.p.header(); return err }); err != nil {
		return err
	}
	cp.Meta = slices.Clone(cp.Meta) // it is in the window, which moves on
	if err := start(cp); err != nil {
		return err
	}
	var prev []byte // the previous key, copied out of the window
	for i := 0; i < int(n); i++ {
		var key, val []byte
		err := w.parse(func() (err error) {
			var after []byte
			if i > 0 {
				after = prev
			}
			key, val, err = w.p.record(i, after)
			return err
		})
		if err != nil {
			return err
		}
		if err := fn(key, val); err != nil {
			return err
		}
		prev = append(prev[:0], key...)
	}
	return w.parse(w.p.trailer)
}

// snapWindow feeds a snapParser a file a window at a time.
type snapWindow struct {
	p    snapParser
	r    io.Reader
	path string
	buf  []byte // the window's memory
}

// parse runs one piece of the parser (header, a record, the trailer),
// moving the window on and running it again from the same place while it
// needs bytes the window does not have yet.
func (w *snapWindow) parse(piece func() error) error {
	for {
		at := w.p.off
		err := piece()
		if !errors.Is(err, errSnapShort) {
			return err
		}
		w.p.off = at
		if err := w.more(); err != nil {
			return err
		}
	}
}

// more drops the window's bytes before the parser's offset (into the
// running file checksum), keeps the rest and reads more of the file after
// them, into a window twice as big when the kept bytes fill it.
func (w *snapWindow) more() error {
	p := &w.p
	p.crc = crc32.Update(p.crc, castagnoli, p.b[:p.off])
	p.base += p.off
	kept := copy(w.buf[:cap(w.buf)], p.b[p.off:])
	if kept == cap(w.buf) {
		grown := make([]byte, max(2*cap(w.buf), 4<<10))
		copy(grown, w.buf[:kept])
		w.buf = grown[:0]
	}
	end := min(cap(w.buf), p.size-p.base)
	got, err := io.ReadFull(w.r, w.buf[kept:end])
	if err != nil {
		return fmt.Errorf("store: read snapshot %s: %w (file changed while reading?)", w.path, err)
	}
	p.b, p.off = w.buf[:kept+got], 0
	return nil
}
