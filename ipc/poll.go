package ipc

import (
	"encoding/binary"
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
// The spin is bounded and adapts: input found while spinning sets it to
// ringSpin, a spin that found none halves it (down to ringSpinMin), so an
// idle worker does not hold a core. After a park the next spin may be a
// longer probe (see poller.begin). A scheduler that stays busy longer than
// pollBusyFor gives the rings back to the reader goroutines, which then
// decode in parallel with it; it takes them again the next time it is
// idle.

// pollBusyFor is how long a scheduler may run without going idle before
// its rings go back to their reader goroutines.
const pollBusyFor = 200 * time.Microsecond

// pollProbe is the longest spin after a park (see poller.begin): longer
// than the peer takes to answer when it had parked too.
var pollProbe = 10 * ringSpin

// poller is the scheduler goroutine's polling state.
type poller struct {
	links     []*link       // links whose rings are polled (link.polled set)
	spin      time.Duration // how long an idle spell polls before the scheduler parks
	probe     time.Duration // how long the first spell after a park polls (see begin)
	budget    time.Duration // the current spell's
	probing   bool          // the current spell is a probe
	woke      bool          // the scheduler parked since the last spell
	idleSince time.Time     // when the current idle spell began; zero: not idle
	lastIdle  time.Time     // the last idle poll
	buf       []byte        // frames copied out of a ring
	msg       message
	sc        scratch
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
		n.pollRings()
		if time.Since(p.lastIdle) > pollBusyFor {
			n.unpollAll()
		}
		return false
	}
	now := time.Now()
	p.lastIdle = now
	if p.idleSince.IsZero() {
		p.begin(now)
	}
	if n.pollRings() {
		p.spin, p.probe = ringSpin, pollProbe
		p.idleSince = time.Time{}
		return true
	}
	if len(p.links) == 0 {
		p.idleSince = time.Time{}
		return false
	}
	if now.Sub(p.idleSince) < p.budget {
		// No runtime.Gosched: it wakes another thread to take this
		// goroutine (wakep), a futex call per turn, and the spin is short.
		return true
	}
	p.missed()
	n.unpollAll()
	return false
}

// begin starts an idle spell: it spins for spin, or, right after a park,
// for probe if that is longer. A park makes both sides of a ping-pong slow
// to answer, so the spin that follows one, and then every spin, would
// come to think that polling does not pay; the probe lets the two find
// each other polling again, and shrinks only while it keeps missing.
func (p *poller) begin(now time.Time) {
	p.idleSince = now
	p.budget = p.spin
	p.probing = p.woke && p.probe > p.spin
	if p.probing {
		p.budget = p.probe
	}
	p.woke = false
}

// missed ends an idle spell that found no input: the scheduler parks.
func (p *poller) missed() {
	p.spin = max(p.spin/2, ringSpinMin)
	if p.probing {
		p.probe = max(p.probe/2, ringSpinMin)
	}
	p.woke = true
	p.idleSince = time.Time{}
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
