package ipc

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// Between two processes on one host a link's frames travel through shared
// memory, because a unix socket costs two system calls and a wake-up of
// the other process per message, which no framing can hide. The mapping
// (see shm_linux.go) holds a header page and two rings, one per direction;
// each ring is a byte stream of single-producer single-consumer kind that
// carries the same length-prefixed frames as a socket, so the frame reader
// and its limits stay the one decoder of what a peer sends.
//
// Layout of the mapping (offsets in bytes; integers little-endian, the
// positions are 64-bit counters that only grow):
//
//	0     magic "STKLSHM1", version (u32), ring size (u32, a power of two)
//	128   ring 0 control: tail (u64) | reader parked (u32)
//	192                   head (u64) | writer parked (u32)
//	256   ring 1 control, the same
//	4096  ring 0 data, then ring 1 data
//
// Ring 0 carries dialer -> acceptor, ring 1 the other way. tail is written
// by the ring's writer only, head by its reader only, each on its own cache
// line. Each side keeps its own position privately and only publishes it:
// what it reads of the other side's position is checked (never more than a
// ring ahead) before it is used, so a peer that scribbles on the mapping
// gets an error, never a read out of bounds.
//
// Waiting: a side with nothing to do spins for a short, bounded time (the
// answer to a ping usually comes back within it) and then parks: it sets
// its parked flag, checks once more, and blocks on its eventfd. The other
// side, after publishing a position, wakes it if the flag is set. Both
// flags and positions are sequentially consistent atomics (the store of
// one and the load of the other cannot both miss), so no wake-up is lost.
//
// Two goroutines of a node read a ring, one at a time: the link's reader
// goroutine, through its bufio.Reader and frame reader, and the
// scheduler's goroutine, which polls the ring for whole frames while it
// runs or is about to park (poll.go), so that a message reaches the
// scheduler without waking any goroutine. A token says who reads: the
// reader goroutine gives it up only between frames with nothing buffered,
// so the poller always starts at a frame boundary. While the scheduler
// polls (polled), the reader goroutine parks without setting the parked
// flag, since the writer need not wake anybody, and with a timeout, since
// a step that runs long keeps the poller away. When the poller stops it
// sets the flag and checks the ring once more, as a parking reader does;
// the reader goroutine clears the flag whenever it wakes and looks at
// polled afresh.

const (
	shmMagic      = "STKLSHM1"
	shmVersion    = 1
	shmHeaderSize = 4096
	shmCtlOffset  = 128
	shmCtlSize    = 128
	// shmRingSize is the data bytes of each ring: a burst of a stream's
	// frames fits, and a frame larger than it streams through in parts.
	shmRingSize = 1 << 20
	// shmMinRing and shmMaxRing bound the ring size a mapping may declare.
	shmMinRing = 4 << 10
	shmMaxRing = 64 << 20
)

// ringSpin is the longest a reader spins before it parks; ringSpinMin the
// shortest. A reader's spin adapts between them (see adapt): it doubles
// when data came within ringSpin of finding the ring empty and halves when
// it came later, so a ping-pong keeps its spin, while an idle link or an
// overloaded host, where the peer is not running to answer within it,
// stops spending a core on it.
const ringSpinMin = time.Microsecond

// ringSpin is a variable only so that benchmarks can compare spins
// (IPC_BENCH_SPIN in the tests); nothing else sets it.
var ringSpin = 20 * time.Microsecond

// shmTotal is the size of a mapping with rings of ringSize bytes.
func shmTotal(ringSize int) int { return shmHeaderSize + 2*ringSize }

// writeShmHeader lays out a fresh mapping.
func writeShmHeader(mem []byte, ringSize int) {
	copy(mem, shmMagic)
	binary.LittleEndian.PutUint32(mem[8:], shmVersion)
	binary.LittleEndian.PutUint32(mem[12:], uint32(ringSize))
}

// checkShmHeader validates a mapping made by the peer and returns its ring
// size.
func checkShmHeader(mem []byte) (int, error) {
	if len(mem) < shmHeaderSize || string(mem[:8]) != shmMagic {
		return 0, fmt.Errorf("%w: the shared mapping does not start with %q", ErrBadFrame, shmMagic)
	}
	if v := binary.LittleEndian.Uint32(mem[8:]); v != shmVersion {
		return 0, fmt.Errorf("%w: shared mapping version %d, this node speaks %d", ErrBadFrame, v, shmVersion)
	}
	size := int(binary.LittleEndian.Uint32(mem[12:]))
	if size < shmMinRing || size > shmMaxRing || size&(size-1) != 0 {
		return 0, fmt.Errorf("%w: shared ring size %d is not a power of two in [%d, %d]", ErrBadFrame, size, shmMinRing, shmMaxRing)
	}
	if len(mem) != shmTotal(size) {
		return 0, fmt.Errorf("%w: shared mapping of %d bytes; rings of %d need %d", ErrBadFrame, len(mem), size, shmTotal(size))
	}
	return size, nil
}

// ringCtl is the shared control words of one ring.
type ringCtl struct {
	tail         *atomic.Uint64
	readerParked *atomic.Uint32
	head         *atomic.Uint64
	writerParked *atomic.Uint32
	data         []byte
}

// ctlOf returns ring i (0 or 1) of a mapping whose header was checked.
// mem must be 8-byte aligned (a mapping is page-aligned).
func ctlOf(mem []byte, i, size int) ringCtl {
	c := mem[shmCtlOffset+i*shmCtlSize:]
	d := shmHeaderSize + i*size
	return ringCtl{
		tail:         (*atomic.Uint64)(unsafe.Pointer(&c[0])),
		readerParked: (*atomic.Uint32)(unsafe.Pointer(&c[8])),
		head:         (*atomic.Uint64)(unsafe.Pointer(&c[64])),
		writerParked: (*atomic.Uint32)(unsafe.Pointer(&c[72])),
		data:         mem[d : d+size : d+size],
	}
}

// waiter parks a side until the other side signals it, or the link closes.
type waiter interface {
	wait() error                   // blocks until signalled; an error ends the ring's use
	waitFor(d time.Duration) error // wait, for at most d
	signal()                       // wakes the other side's waiter
	wakeOwn()                      // wakes this side's waiter
}

// errRingCorrupt means the peer wrote a position the ring cannot have.
var errRingCorrupt = fmt.Errorf("%w: shared ring", ErrBadFrame)

// ringState is what both ends of one side of a ring share: the local
// shutdown flag, and (for a reader) that the peer is gone.
type ringState struct {
	closed   atomic.Bool // this node closed the link
	peerGone atomic.Bool // the socket ended: what is in the ring is all there is
}

// The states of a ring's read token (ringReader.token).
const (
	tokFree   = iota // nobody reads: the reader goroutine or the poller may take it
	tokReader        // the reader goroutine reads, maybe in the middle of a frame
	tokPoller        // the poller copies whole frames out
	tokDead          // the mapping is gone
)

// ringReader reads the byte stream of one ring.
type ringReader struct {
	c    ringCtl
	pos  uint64 // private head (whoever holds the token)
	mask uint64
	w    waiter // own: parks until data; other: tells the writer space is free
	st   *ringState
	spin time.Duration // how long the next wait spins (see ringSpin)

	token   atomic.Int32 // who reads the ring (tokFree, ...)
	polled  atomic.Bool  // the scheduler's goroutine polls the ring
	handoff atomic.Bool  // the poller left a frame to the reader goroutine
	// boundary (reader goroutine only): its next Read starts a frame with
	// nothing buffered, so the token may go to the poller while it waits.
	boundary bool
	held     bool // the reader goroutine holds the token
}

func newRingReader(c ringCtl, w waiter, st *ringState) *ringReader {
	return &ringReader{c: c, pos: c.head.Load(), mask: uint64(len(c.data) - 1), w: w, st: st, spin: ringSpin}
}

// Read copies what the ring holds into p, waiting for at least one byte.
// It returns io.EOF once the peer is gone and the ring is drained, and
// net.ErrClosed once this node closed the link.
func (r *ringReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.boundary {
		r.boundary = false
		if err := r.claim(); err != nil {
			return 0, err
		}
	}
	var start time.Time // when this read found the ring empty
	for {
		n, err := r.avail()
		if err != nil {
			return 0, err
		}
		if n > 0 {
			if !start.IsZero() {
				r.adapt(time.Since(start))
			}
			return r.take(p, n), nil
		}
		if r.st.closed.Load() {
			return 0, net.ErrClosed
		}
		if r.st.peerGone.Load() {
			if n, err = r.avail(); err != nil || n > 0 { // written before the peer went
				continue
			}
			return 0, io.EOF
		}
		if start.IsZero() {
			start = time.Now()
		}
		if time.Since(start) < r.spin {
			runtime.Gosched()
			continue
		}
		r.c.readerParked.Store(1)
		if n, _ = r.avail(); n > 0 || r.st.closed.Load() || r.st.peerGone.Load() {
			r.c.readerParked.Store(0)
			continue
		}
		err = r.w.wait()
		r.c.readerParked.Store(0)
		if err != nil {
			return 0, err
		}
	}
}

// adapt sets the next spin from how long the reader waited for data: a
// wait that a full spin would have covered doubles it, a longer one halves
// it.
func (r *ringReader) adapt(waited time.Duration) {
	if waited <= ringSpin {
		r.spin = min(2*r.spin, ringSpin)
	} else {
		r.spin = min(max(r.spin/2, ringSpinMin), ringSpin)
	}
}

// pollFallback is how long the reader goroutine, parked while the
// scheduler polls, waits before it looks at the ring itself: a step that
// runs long holds the poller off, and a keepalive or a control reply must
// still be read meanwhile.
const pollFallback = 10 * time.Millisecond

// claim waits, at a frame boundary with nothing buffered, until the ring
// holds data and the reader goroutine holds the token, or the link ends
// (Read's loop then reports how). While it waits the token is free, so the
// poller may take frames.
func (r *ringReader) claim() error {
	if r.held {
		if n, err := r.avail(); err != nil || n > 0 {
			return nil // Read takes it, or reports the error
		}
		r.handoff.Store(false) // whatever the poller left is read
		r.held = false
		r.token.Store(tokFree)
	}
	var start time.Time // when the spin began
	for {
		if r.pending() || r.st.closed.Load() || r.st.peerGone.Load() {
			if r.token.CompareAndSwap(tokFree, tokReader) {
				r.held = true
				if !start.IsZero() {
					r.adapt(time.Since(start))
				}
				return nil
			}
			if r.token.Load() == tokDead {
				return net.ErrClosed
			}
			runtime.Gosched() // the poller is copying frames out
			continue
		}
		if r.polled.Load() && !r.handoff.Load() {
			// The poller watches the ring: park without the flag, so the
			// writer signals nobody. Only a stop of the poller (which sets
			// the flag), a link's end or the fallback wakes this goroutine,
			// which clears the flag again and looks at polled afresh.
			err := r.w.waitFor(pollFallback)
			r.c.readerParked.Store(0)
			if err != nil {
				return err
			}
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		if time.Since(start) < r.spin {
			runtime.Gosched()
			continue
		}
		r.c.readerParked.Store(1)
		// polled is loaded after the store: a poller that starts now makes
		// the writer's next signal move this goroutine to the wait above.
		if r.pending() || r.st.closed.Load() || r.st.peerGone.Load() || (r.polled.Load() && !r.handoff.Load()) {
			r.c.readerParked.Store(0)
			continue
		}
		err := r.w.wait()
		r.c.readerParked.Store(0)
		if err != nil {
			return err
		}
	}
}

// pending reports whether the writer published bytes nobody took yet. It
// reads only the shared positions, so it needs no token.
func (r *ringReader) pending() bool { return r.c.tail.Load() != r.c.head.Load() }

// letGo gives up the token if the reader goroutine holds it (when the link
// ends).
func (r *ringReader) letGo() {
	if r.held {
		r.held = false
		r.token.Store(tokFree)
	}
}

// kill waits until nobody reads the ring and marks it dead, so that no
// poller touches the mapping after it is unmapped.
func (r *ringReader) kill() {
	for !r.token.CompareAndSwap(tokFree, tokDead) {
		if r.token.Load() == tokDead {
			return
		}
		runtime.Gosched()
	}
}

// pollRoom is the most bytes of frames a poll copies out at once; a frame
// larger than it is left to the reader goroutine.
const pollRoom = 64 << 10

// pollFrames appends to buf the whole frames (each with its length prefix)
// that the ring holds, up to pollRoom bytes, if the token is free. A frame
// it does not take (one over pollRoom or the ring, an empty one or one
// over maxFrame) is handed off to the reader goroutine, whose frame reader
// reads it or reports it, and so is a ring whose writer published a
// position it cannot have. It reports whether it took anything. The
// caller, the poller, must have set polled.
func (r *ringReader) pollFrames(buf []byte, maxFrame int) (_ []byte, got bool) {
	if r.handoff.Load() || !r.token.CompareAndSwap(tokFree, tokPoller) {
		return buf, false
	}
	n, err := r.avail()
	if err != nil {
		r.handOff()
		r.token.Store(tokFree)
		return buf, false
	}
	room := uint64(min(pollRoom, len(r.c.data)))
	var took uint64
	for n-took >= frameHeader {
		size := uint64(r.u32At(r.pos + took))
		whole := frameHeader + size
		if size == 0 || size > uint64(maxFrame) || whole > room {
			if took == 0 {
				r.handOff()
			}
			break
		}
		if n-took < whole || took+whole > room {
			break // not all written yet, or for the next poll
		}
		buf = r.copyOut(buf, r.pos+took, whole)
		took += whole
	}
	if took > 0 {
		r.pos += took
		r.c.head.Store(r.pos)
		if r.c.writerParked.Load() != 0 {
			r.w.signal()
		}
	}
	r.token.Store(tokFree)
	return buf, took > 0
}

// handOff leaves the ring to the reader goroutine and wakes it; the
// poller holds the token.
func (r *ringReader) handOff() {
	r.handoff.Store(true)
	r.w.wakeOwn()
}

// unpoll ends polling: from now on the reader goroutine watches the ring.
// If it reads now (it holds the token), it sees polled cleared before it
// parks again; if it is parked, the flag is set so that the writer wakes
// it, and it is woken at once if data came meanwhile.
func (r *ringReader) unpoll() {
	r.polled.Store(false)
	if !r.token.CompareAndSwap(tokFree, tokPoller) {
		return
	}
	r.c.readerParked.Store(1)
	if r.pending() {
		r.w.wakeOwn()
	}
	r.token.Store(tokFree)
}

// u32At reads the big-endian frame length at stream position at, which
// may wrap round the end of the ring.
func (r *ringReader) u32At(at uint64) uint32 {
	var b [frameHeader]byte
	i := int(at & r.mask)
	k := copy(b[:], r.c.data[i:])
	copy(b[k:], r.c.data)
	return binary.BigEndian.Uint32(b[:])
}

// copyOut appends n bytes of the stream from position at to buf.
func (r *ringReader) copyOut(buf []byte, at, n uint64) []byte {
	i := int(at & r.mask)
	end := i + int(n)
	if end <= len(r.c.data) {
		return append(buf, r.c.data[i:end]...)
	}
	buf = append(buf, r.c.data[i:]...)
	return append(buf, r.c.data[:end-len(r.c.data)]...)
}

// avail is how many bytes the writer has published past the read position.
func (r *ringReader) avail() (uint64, error) {
	n := r.c.tail.Load() - r.pos
	if n > uint64(len(r.c.data)) {
		return 0, fmt.Errorf("%w: the writer's position is %d bytes past the reader's, in a ring of %d", errRingCorrupt, n, len(r.c.data))
	}
	return n, nil
}

// take copies min(n, len(p)) bytes out of the ring and frees them.
func (r *ringReader) take(p []byte, n uint64) int {
	k := int(min(n, uint64(len(p))))
	at := int(r.pos & r.mask)
	m := copy(p[:k], r.c.data[at:])
	copy(p[m:k], r.c.data)
	r.pos += uint64(k)
	r.c.head.Store(r.pos)
	if r.c.writerParked.Load() != 0 {
		r.w.signal()
	}
	return k
}

// ringWriter writes the byte stream of one ring.
type ringWriter struct {
	c    ringCtl
	pos  uint64 // private tail
	mask uint64
	w    waiter // own: parks until space; other: tells the reader data is in
	st   *ringState
}

func newRingWriter(c ringCtl, w waiter, st *ringState) *ringWriter {
	return &ringWriter{c: c, pos: c.tail.Load(), mask: uint64(len(c.data) - 1), w: w, st: st}
}

// Write copies p into the ring, waiting for space as needed; it publishes
// each part as soon as it is in.
func (w *ringWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		free, err := w.free()
		if err != nil {
			return done, err
		}
		if free == 0 {
			if err := w.waitSpace(); err != nil {
				return done, err
			}
			continue
		}
		k := int(min(free, uint64(len(p))))
		w.publish(p[:k])
		p = p[k:]
		done += k
	}
	return done, nil
}

// tryWrite writes all of p if the ring has room for it now, and reports
// whether it did; it never waits. A ring whose reader published a position
// it cannot have is left to Write, which reports it.
func (w *ringWriter) tryWrite(p []byte) bool {
	free, err := w.free()
	if err != nil || free < uint64(len(p)) {
		return false
	}
	w.publish(p)
	return true
}

// publish copies p (which fits) into the ring at the write position, makes
// it visible to the reader and wakes the reader if it is parked.
func (w *ringWriter) publish(p []byte) {
	at := int(w.pos & w.mask)
	m := copy(w.c.data[at:], p)
	copy(w.c.data, p[m:])
	w.pos += uint64(len(p))
	w.c.tail.Store(w.pos)
	if w.c.readerParked.Load() != 0 {
		w.w.signal()
	}
}

// Flush does nothing: Write publishes at once. It lets a ringWriter stand
// where the socket's bufio.Writer does.
func (w *ringWriter) Flush() error { return nil }

// free is how many bytes the ring can take now.
func (w *ringWriter) free() (uint64, error) {
	used := w.pos - w.c.head.Load()
	if used > uint64(len(w.c.data)) {
		return 0, fmt.Errorf("%w: the reader's position is %d bytes behind the writer's, in a ring of %d", errRingCorrupt, used, len(w.c.data))
	}
	return uint64(len(w.c.data)) - used, nil
}

// waitSpace spins, then parks until the reader frees space or the link
// closes.
func (w *ringWriter) waitSpace() error {
	until := time.Now().Add(ringSpin)
	for time.Now().Before(until) {
		if w.st.closed.Load() {
			return net.ErrClosed
		}
		if f, err := w.free(); err != nil || f > 0 {
			return err
		}
		runtime.Gosched()
	}
	w.c.writerParked.Store(1)
	defer w.c.writerParked.Store(0)
	if f, err := w.free(); err != nil || f > 0 || w.st.closed.Load() {
		return err
	}
	if err := w.w.wait(); err != nil {
		return err
	}
	if w.st.closed.Load() {
		return net.ErrClosed
	}
	return nil
}
