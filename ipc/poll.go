package ipc

import (
	"encoding/binary"
	"runtime"
	"time"

	"github.com/stackless-go/stackless/scheduler"
)

// The scheduler's goroutine reads the shared-memory rings itself
// (scheduler.SetPoll): between slices of a run, and, when nothing is
// runnable, in a short adaptive spin before it parks. A message from a
// peer on this host then reaches the scheduler with no goroutine woken on
// either side: the peer's scheduler wrote it into the ring, and this one
// finds it while still running. Handing it over through the link's reader
// goroutine costs a wake-up of that goroutine and then of the scheduler's,
// each tens of microseconds on a busy virtual machine.
//
// The spin is bounded and adapts to whether it pays. While it does (the
// input it waits for comes within it), an idle scheduler polls for up to
// pollSpin before it parks: where the peer has a core of its own the
// answer comes within microseconds, and where the peer is preempted now
// and then a park costs far more than the spin (a sleeping wake-up takes
// hundreds of microseconds on a loaded virtual machine). Two spins in a
// row that find nothing (an idle worker, or a host so busy that a spinning
// process only takes the core its peer needs) stop it: the scheduler
// parks at once and the reader goroutines watch the rings, as they did
// before the poller, but for a probe, a spin of the full length now and
// then, rarer after each that does not pay.
//
// A busy scheduler keeps taking frames between slices while they come:
// it gives its rings back to the reader goroutines only once it has been
// busy for pollBusyFor and found nothing in them for as long. Then a frame
// that comes wakes a reader goroutine, whose message ends the running
// slice (the inbox), where a polled ring would wait for the slice's end:
// up to 256 steps, which for long steps is many milliseconds. Until
// December 2026 the rings went back after pollBusyFor of work whatever
// they held; a stream's sender, which never idles but finds credit coming
// back every few tens of microseconds, then paid an eventfd write on the
// peer's side and a goroutine's wake-up on its own per batch, and on a
// host without a spare core the reader's decoding only took the peer's.

// pollBusyFor is how long a busy scheduler polls rings that bring nothing
// before it gives them back to their reader goroutines.
const pollBusyFor = 200 * time.Microsecond

// pollSpin is the longest an idle scheduler polls before it parks. It is a
// variable only so that benchmarks can compare spins (IPC_BENCH_SPIN in
// the tests).
var pollSpin = 200 * time.Microsecond

// pollProbeMax is the most idle spells from one probe to the next once
// spinning stopped paying; pollPaid is how many spells must find input
// before it stops for spinning to have paid.
const (
	pollProbeMax = 64
	pollPaid     = 16
)

// poller is the scheduler goroutine's polling state.
type poller struct {
	links      []*link       // links whose rings are polled (link.polled set)
	paying     bool          // spells find input: they spin for pollSpin
	misses     int           // spells in a row that found none
	hits       int           // spells that found input since spinning began to pay
	probeEvery int           // not paying: spells from one probe to the next
	sinceProbe int           // spells since the last probe
	budget     time.Duration // the current spell's
	oneProc    bool          // GOMAXPROCS is 1
	idleSince  time.Time     // when the current idle spell began; zero: not idle
	lastInput  time.Time     // the last idle poll, or busy poll that found frames
	buf        []byte        // frames copied out of a ring
	msg        message
	sc         scratch
}

// poll is the node's scheduler.SetPoll function.
func (n *Node) poll(mode scheduler.PollMode) bool {
	p := &n.pl
	switch mode {
	case scheduler.PollStop:
		n.unpollAll()
		p.idleSince = time.Time{}
		return false
	case scheduler.PollBusy:
		p.idleSince = time.Time{} // an idle spell that ended in work
		if len(p.links) == 0 {
			return false
		}
		now := time.Now()
		if n.pollRings() {
			p.lastInput = now
		} else if now.Sub(p.lastInput) > pollBusyFor {
			n.unpollAll()
		}
		return false
	}
	now := time.Now()
	p.lastInput = now // idle: the rings are the scheduler's to watch
	if p.idleSince.IsZero() {
		if len(n.cr.dirty) > 0 { // flush held it back: tell the homes now
			n.sendWaiting()
			n.flushHeld()
		}
		p.begin(now)
	}
	if p.budget == 0 { // not this spell: the reader goroutines watch
		p.idleSince = time.Time{}
		n.unpollAll()
		return false
	}
	if n.pollRings() {
		p.hit()
		return true
	}
	if len(p.links) == 0 {
		p.idleSince = time.Time{}
		return false
	}
	if now.Sub(p.idleSince) < p.budget {
		// runtime.Gosched would wake another thread to take this
		// goroutine (wakep), a futex call per turn, where a processor is
		// idle; only with one processor do other goroutines (a link's
		// writer, say) need the spin to give way.
		if p.oneProc {
			runtime.Gosched()
		}
		return true
	}
	p.missed()
	n.unpollAll()
	return false
}

// begin starts an idle spell: a spin of pollSpin while spinning pays;
// otherwise none, or now and then a probe of the same length.
func (p *poller) begin(now time.Time) {
	p.idleSince = now
	p.oneProc = runtime.GOMAXPROCS(0) == 1
	p.budget = pollSpin
	if !p.paying {
		if p.sinceProbe++; p.sinceProbe < p.probeEvery {
			p.budget = 0
		} else {
			p.sinceProbe = 0
		}
	}
}

// hit ends a spell that found input.
func (p *poller) hit() {
	p.paying, p.misses = true, 0
	p.hits++
	p.idleSince = time.Time{}
}

// missed ends a spell that found no input: the scheduler parks. Two in a
// row end a stretch of spinning; one that found input in fewer than
// pollPaid spells (a probe that hit by chance, on a host where spinning
// only takes the peer's core) makes the next probe come later.
func (p *poller) missed() {
	p.idleSince = time.Time{}
	if !p.paying {
		p.probeEvery = min(2*p.probeEvery, pollProbeMax) // a probe that missed
		return
	}
	if p.misses++; p.misses < 2 {
		return
	}
	if p.hits < pollPaid {
		p.probeEvery = min(2*p.probeEvery, pollProbeMax)
	} else {
		p.probeEvery = 1
	}
	p.paying, p.hits, p.sinceProbe = false, 0, 0
}

// pollRings takes the frames waiting in the rings of the node's
// shared-memory links, polling those not polled yet from now on, and
// reports whether it handled any.
func (n *Node) pollRings() bool {
	got := false
	for i, l := range n.links.Load().byNode {
		if l == nil || uint16(i) != l.peer || l.shm == nil {
			continue // routed numbers share their peer's link
		}
		if !l.polled {
			l.polled = true
			l.shm.r.polled.Store(true)
			n.pl.links = append(n.pl.links, l)
		}
		buf, took := l.shm.r.pollFrames(n.pl.buf[:0], n.cfg.maxFrame)
		n.pl.buf = buf
		if took {
			n.handleFrames(l, buf)
			got = true
		}
	}
	return got
}

// unpollAll gives every polled ring back to its reader goroutine.
func (n *Node) unpollAll() {
	for i, l := range n.pl.links {
		l.polled = false
		l.shm.r.unpoll()
		n.pl.links[i] = nil
	}
	n.pl.links = n.pl.links[:0]
}

// handleFrames decodes and handles, on the scheduler's goroutine, frames
// that pollFrames copied out of l's ring, as readLoop and drain would.
func (n *Node) handleFrames(l *link, buf []byte) {
	n.in.drainQueued() // what the reader goroutine handed over comes first
	p := &n.pl
	var frames, bytes uint64
	for len(buf) > 0 {
		size := int(binary.BigEndian.Uint32(buf))
		body := buf[frameHeader : frameHeader+size]
		buf = buf[frameHeader+size:]
		frames++
		bytes += uint64(frameHeader + size)
		m := &p.msg
		err := decodeMessage(body, n.reg, m, &p.sc)
		if err == nil {
			m.From = l.peer
			switch {
			case m.Kind == kControl:
				n.serveControl(l, m.ID, m.Text, m.Payload)
			case n.early(l, m):
			default:
				n.handle(m)
			}
		}
		*m = message{}
		p.sc.reset()
		if err != nil {
			l.count(frames, bytes)
			l.close(err)
			return
		}
	}
	l.count(frames, bytes)
}
