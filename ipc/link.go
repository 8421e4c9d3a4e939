package ipc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/stackless-go/stackless/channel"
)

// link is an authenticated connection to one peer node. Senders (the
// scheduler's goroutine, and any goroutine calling Post or Call) append
// whole frames to out under mu and kick the writer; one writer goroutine
// swaps the buffer out and writes it through a 64 KiB bufio.Writer,
// flushing when nothing more is queued, so frames sent close together
// share one system call. One reader goroutine decodes frames and hands
// them to the node in batches.
type link struct {
	n       *Node
	peer    uint16
	conn    net.Conn
	network string
	remote  string
	shm     *shmLink // frames go through shared-memory rings (see shm.go); nil: through conn

	mu        sync.Mutex
	out       []byte     // frames waiting for the writer
	framesOut uint64     // frames queued so far (guarded by mu)
	unkicked  bool       // held frames wait in out and the writer was not woken for them (see hold)
	runOpen   bool       // out ends with a PUTS frame still open for values (puts.go)
	runAt     int        // where in out the open PUTS frame begins
	runCh     channel.ID // its channel
	runN      int        // its values so far
	unfenced  bool       // a frame nobody answers (PUT, PUTS, CLOSE, CANCEL) was queued since the last FENCE
	tmp       []byte     // a value moved to a PUTS frame of its own
	writing   bool       // the writer is writing a batch it took from out
	closed    bool
	kick      chan struct{}
	done      chan struct{} // closed when the link closes

	closeOnce sync.Once
	reason    error // why the link closed; set before done is closed
	release   func()

	held   bool // on the node's list of links to flush (scheduler goroutine only)
	polled bool // on the node's list of polled links (scheduler goroutine only, see poll.go)

	// FENCEs sent on the link and the newest the peer answered (scheduler
	// goroutine only, see Node.fence).
	fenceSent, fenceDone uint64

	alive  atomic.Bool // a frame arrived since the last keepalive tick
	missed int         // keepalive ticks without a frame (keepalive goroutine only)

	framesIn, bytesIn, bytesOut atomic.Uint64
}

func newLink(n *Node, peer uint16, conn net.Conn, network string) *link {
	l := &link{n: n, peer: peer, conn: conn, network: network, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if a := conn.RemoteAddr(); a != nil {
		l.remote = a.String()
	}
	l.alive.Store(true)
	return l
}

// send queues m and wakes the writer. It never blocks on the network; it
// fails if the link is closed, if m cannot be encoded (an unregistered
// value type) or if it is larger than the frame limit.
func (l *link) send(m *message) error { return l.enqueue(m, false, false) }

// sendIfRoom queues m like send unless frames are already waiting and m
// would take the queue past half its limit (WithMaxQueued); then it
// queues nothing and fails with ErrLinkBusy. A burst of large MIGRATEs
// (a balancing shed keeps hundreds in flight) would otherwise pass the
// limit, and send closes a link that does, failing every tasklet waiting
// on the peer: refused moves stay where they are, and the half left
// keeps room for the answers and values that must not be refused.
func (l *link) sendIfRoom(m *message) error { return l.enqueue(m, false, true) }

// hold queues m like send, but leaves waking the writer to flush: the
// scheduler's goroutine holds what one slice sends (see Node.queue), so
// that it goes out in one write. A queue that reached bufSize is sent at
// once.
func (l *link) hold(m *message) error { return l.enqueue(m, true, false) }

// takeUnfenced reports whether a frame nobody answers went out since the
// last call, and starts over.
func (l *link) takeUnfenced() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.unfenced
	l.unfenced = false
	return u
}

func (l *link) enqueue(m *message, hold, ifRoom bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("ipc: send %v to node %d: %w", m.Kind, l.peer, ErrLinkDown)
	}
	l.endRunLocked()
	b, start := beginFrame(l.out)
	b, err := appendMessage(b, l.n.reg, m)
	if err == nil {
		b, err = endFrame(b, start, l.n.cfg.maxFrame)
	} else {
		b = b[:start]
	}
	if err == nil && ifRoom && start > 0 && len(b) > l.n.cfg.maxQueued/2 {
		l.out = b[:start]
		l.mu.Unlock()
		return fmt.Errorf("%w: %d bytes are queued for node %d and a %v of %d more would pass half the limit of %d (WithMaxQueued); try again once the queue drains",
			ErrLinkBusy, start, l.peer, m.Kind, len(b)-start, l.n.cfg.maxQueued)
	}
	l.out = b
	if err == nil {
		l.framesOut++
		l.unfenced = l.unfenced || m.Kind == kClose || m.Kind == kCancel // PUTs are marked in putAll
	}
	over := len(b) > l.n.cfg.maxQueued
	// The writer parks only after it found the queue empty under mu, so
	// only a frame that finds the queue empty, or behind held frames that
	// did not wake it, needs to wake it.
	kick := false
	if err == nil {
		if hold && len(b) < bufSize {
			l.unkicked = l.unkicked || start == 0
		} else {
			kick = start == 0 || l.unkicked
			l.unkicked = false
		}
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if over {
		l.close(fmt.Errorf("the peer is not reading: %d bytes queued, over the limit of %d (WithMaxQueued)", len(b), l.n.cfg.maxQueued))
		return fmt.Errorf("ipc: send %v to node %d: %w", m.Kind, l.peer, ErrLinkDown)
	}
	if kick {
		l.wakeWriter()
	}
	return nil
}

func (l *link) wakeWriter() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// flush sends what hold queued: on a shared-memory link whose writer is
// idle it copies the frames into the ring itself when they fit (a
// ping-pong's answer then leaves without waking the writer goroutine);
// otherwise it wakes the writer.
func (l *link) flush() {
	l.mu.Lock()
	if !l.unkicked || l.closed { // closed: the mapping may be gone
		l.mu.Unlock()
		return
	}
	l.unkicked = false
	l.endRunLocked()
	if l.shm != nil && !l.writing && l.shm.w.tryWrite(l.out) {
		l.bytesOut.Add(uint64(len(l.out)))
		l.out = l.out[:0]
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.wakeWriter()
}

// queuedFrames is the number of frames queued so far.
func (l *link) queuedFrames() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.framesOut
}

// writeLoop writes queued frames until the link closes.
func (l *link) writeLoop() {
	defer l.n.wg.Done()
	var w interface {
		io.Writer
		Flush() error
	}
	if l.shm != nil {
		defer l.shm.release()
		w = l.shm.w // publishes each batch as it is written
	} else {
		w = bufio.NewWriterSize(l.conn, bufSize)
	}
	var spare []byte
	for {
		select {
		case <-l.kick:
		case <-l.done:
			return
		}
		for {
			l.mu.Lock()
			l.endRunLocked()
			batch := l.out
			l.out = spare[:0]
			l.writing = len(batch) > 0
			l.mu.Unlock()
			if len(batch) == 0 {
				spare = batch
				break
			}
			if _, err := w.Write(batch); err != nil {
				l.close(fmt.Errorf("write: %w", err))
				return
			}
			l.bytesOut.Add(uint64(len(batch)))
			spare = batch
			if len(spare) > 4*bufSize { // do not keep a burst's buffer forever
				spare = nil
			}
		}
		if err := w.Flush(); err != nil {
			l.close(fmt.Errorf("write: %w", err))
			return
		}
	}
}

// readLoop reads frames until the link closes. Messages decoded from the
// bytes that one read brought in are handed over together.
func (l *link) readLoop(r *bufio.Reader) {
	defer l.n.wg.Done()
	if l.shm != nil {
		defer l.shm.release()
		defer l.shm.r.letGo()
	}
	fr := newFrameReader(r, l.n.cfg.maxFrame)
	b := l.n.getBatch()
	var frames, bytes uint64 // since the last submit
	for {
		if l.shm != nil {
			// Between frames with nothing buffered (all handed over) the
			// scheduler's goroutine may poll the ring (see ring.go).
			l.shm.r.boundary = fr.buffered() == 0
		}
		body, err := fr.next()
		if err != nil {
			l.count(frames, bytes)
			l.n.submit(l, b) // what arrived before the error still counts
			l.close(readError(err))
			return
		}
		frames++
		bytes += uint64(len(body) + frameHeader)
		m := b.next()
		if err := decodeMessage(body, l.n.reg, m, &b.scratch); err != nil {
			b.drop()
			l.count(frames, bytes)
			l.n.submit(l, b)
			l.close(err)
			return
		}
		m.From = l.peer
		if m.Kind == kControl {
			// Hand over what came before first, so that a handler's
			// Scheduler.Do runs after the frames that preceded its CONTROL.
			id, kind, payload := m.ID, m.Text, m.Payload
			b.drop()
			l.count(frames, bytes)
			frames, bytes = 0, 0
			b = l.n.submit(l, b)
			l.n.serveControl(l, id, kind, payload)
			continue
		}
		if l.n.early(l, m) {
			b.drop()
		}
		if fr.buffered() == 0 || len(b.msgs) >= maxBatch || len(b.vals) >= maxBatch*16 {
			l.count(frames, bytes)
			frames, bytes = 0, 0
			b = l.n.submit(l, b)
		}
	}
}

// count adds received traffic to the link's counters and marks it alive.
func (l *link) count(frames, bytes uint64) {
	if frames > 0 {
		l.alive.Store(true)
		l.framesIn.Add(frames)
		l.bytesIn.Add(bytes)
	}
}

func (l *link) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func readError(err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return errPeerClosed
	case errors.Is(err, net.ErrClosed):
		return errLocalClose
	}
	return err
}

var (
	errPeerClosed = errors.New("the peer closed the link")
	errLocalClose = errors.New("closed by this node")
)

// close shuts the link down once, logs why, and tells the node.
func (l *link) close(reason error) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.out = nil
		l.runOpen = false
		l.mu.Unlock()
		l.reason = reason
		l.conn.Close()
		if l.shm != nil {
			l.shm.shutdown()
			l.shm.release()
		}
		close(l.done)
		l.n.linkClosed(l, reason)
	})
}

// watchSocket waits on the socket of a shared-memory link, which carries
// nothing once the rings are up: its end (the peer closed the link, or
// died and the kernel closed it) tells the ring reader that what the ring
// holds is all there will be.
func (l *link) watchSocket() {
	defer l.n.wg.Done()
	defer l.shm.release()
	var b [1]byte
	if n, _ := l.conn.Read(b[:]); n > 0 {
		l.close(fmt.Errorf("%w: the peer wrote on the socket of a shared-memory link", ErrBadFrame))
		return
	}
	l.shm.peerGone()
}
