package ipc

import (
	"slices"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Senders that wait for credit wait here, on their own node, not each in
// a round trip. With many senders on one buffered channel of another node
// (1,024 in BenchmarkRemoteStreamTwoProcesses) the buffer stays full, the
// credit runs out, and every further send used to be an OP and a DONE:
// two frames, two decodes and a remote waiter at the home per value. Now,
// once this node has held credit on a channel (so it is buffered and a
// stream), a plain send finding none left sends its OP only if no other
// OP of this node on the channel is unanswered (that one, the head, stands
// for this node in the channel's queue at the home); otherwise it parks
// in the channel's queue here, in the order the senders blocked. Credit
// coming back (GRANT) completes parked sends in that order, their values
// going out in one PUTS frame; the head's DONE sends the next parked send
// as the new head when no credit came. So a stream of many senders
// carries batches of values, not a round trip per value.
//
// A parked send is a tasklet blocked on its remote channel, as any other:
// kill and throw reach it (Cancel takes it out of the queue here; nothing
// was sent). Whatever would need it at the home sends the parked OPs
// first, in order, so the home sees exactly the waits it saw before:
// the channel closing (a withdrawn grant, or the head's DONE with an
// error), the migration of a parked sender (those parked before it go too),
// and ReleaseCreditWaits, which a consistent checkpoint calls before its
// snapshot so that a parked send is saved as a wait at the home.
// What the home's Balance does not count are the parked senders behind a
// head (they are counted once sent).

// parkedSend names a send parked for credit: tasklet id's wait seq.
type parkedSend struct {
	id  tasklet.ID
	seq uint32
}

// waitingSend is a parked send with its value, the only case of its wait,
// kept here too: credit completing a stream's sends then reads no more of
// each sender than its record, where the wait's case (its own select
// buffer, and the buffer's case) cost two cache misses a value.
type waitingSend struct {
	parkedSend
	v any
}

// sendQueue is this node's senders on one remote channel that wait.
type sendQueue struct {
	heads  []parkedSend  // sent as OPs, unanswered
	parked []waitingSend // in the order blocked; parked[at:] are live (id 0: cancelled)
	at     int
	live   int  // parked sends not cancelled
	dirty  bool // live changed since the home was told (sendWaiting)
}

func (q *sendQueue) waiting() int { return len(q.parked) - q.at }

// push adds p behind the parked sends. A queue that never empties (a
// stream whose senders park faster than credit drains them) reuses the
// popped front once it is half the slice, instead of growing without
// bound: it used to grow by every send that ever parked, about 90 bytes
// allocated per value (BenchmarkRemoteStream, in one run of three).
func (q *sendQueue) push(p parkedSend, v any) {
	if len(q.parked) == cap(q.parked) && q.at >= len(q.parked)/2 {
		k := copy(q.parked, q.parked[q.at:])
		clear(q.parked[k:])
		q.parked, q.at = q.parked[:k], 0
	}
	q.parked = append(q.parked, waitingSend{p, v})
}

func (q *sendQueue) pop() (waitingSend, bool) {
	for q.at < len(q.parked) {
		p := q.parked[q.at]
		q.parked[q.at] = waitingSend{}
		q.at++
		if q.at == len(q.parked) {
			q.parked, q.at = q.parked[:0], 0
		}
		if p.id != 0 {
			q.live--
			return p, true
		}
	}
	return waitingSend{}, false
}

// index returns where p waits in q.parked[q.at:], or -1.
func (q *sendQueue) index(p parkedSend) int {
	for i := q.at; i < len(q.parked); i++ {
		if q.parked[i].parkedSend == p {
			return i
		}
	}
	return -1
}

func (q *sendQueue) dropHead(id tasklet.ID, seq uint32) bool {
	i := slices.Index(q.heads, parkedSend{id, seq})
	if i < 0 {
		return false
	}
	q.heads = slices.Delete(q.heads, i, i+1)
	return true
}

// sendQueue returns ch's queue, made if need be.
func (n *Node) sendQueue(ch channel.ID) *sendQueue {
	q := n.cr.waits[ch]
	if q == nil {
		q = &sendQueue{}
		n.cr.waits[ch] = q
	}
	return q
}

// park parks tasklet id's send of v (its wait's only case) on ch, homed at
// another node, whose credit sc ran out, behind an OP of this node that
// stands for it at the home; it reports false if there is none, and the
// caller sends the OP, which then stands for the sends parked after it
// (addHead).
func (n *Node) park(id tasklet.ID, wait uint32, sc *sendCredit, ch channel.ID, v any) bool {
	q := sc.q
	if q == nil {
		q = n.sendQueue(ch)
		sc.q = q
	}
	if len(q.heads) == 0 {
		return false
	}
	q.push(parkedSend{id, wait}, v)
	q.live++
	n.queueChanged(ch, q)
	return true
}

// queueChanged notes that ch's parked sends changed: the home hears how
// many there are at the end of the slice (sendWaiting).
func (n *Node) queueChanged(ch channel.ID, q *sendQueue) {
	if !q.dirty {
		q.dirty = true
		n.cr.dirty = append(n.cr.dirty, ch)
	}
}

// sendWaiting tells the homes how many sends wait here for credit on
// their channels, where that changed, so that their Balance counts them
// (flush calls it, and poll when the scheduler idles).
func (n *Node) sendWaiting() {
	for _, ch := range n.cr.dirty {
		k := 0
		if q := n.cr.waits[ch]; q != nil {
			k, q.dirty = q.live, false
		}
		if k == n.cr.told[ch] {
			continue
		}
		l := n.link(ch.Node())
		if l == nil || n.queue(l, &message{Kind: kWaiting, Chan: ch, Idx: k}) != nil {
			continue // the home forgets what this node told it when the link goes
		}
		if k == 0 {
			delete(n.cr.told, ch)
		} else {
			n.cr.told[ch] = k
		}
	}
	n.cr.dirty, n.cr.heldFor = n.cr.dirty[:0], 0
}

// onWaiting notes how many sends wait for credit on a channel of this
// node at the peer: the channel's Balance counts them.
func (n *Node) onWaiting(m *message) {
	key := grantKey{m.From, m.Chan}
	d := m.Idx - n.cr.elsewhere[key]
	if m.Idx == 0 {
		delete(n.cr.elsewhere, key)
	} else {
		n.cr.elsewhere[key] = m.Idx
	}
	if d != 0 {
		n.s.AddSendersElsewhere(m.Chan, d)
	}
}

// addHead notes p's OP on ch as one that stands for this node's sends.
func (n *Node) addHead(sc *sendCredit, ch channel.ID, p parkedSend) {
	if sc.q == nil {
		sc.q = n.sendQueue(ch)
	}
	sc.q.heads = append(sc.q.heads, p)
}

// wakeParked completes parked sends on ch while this node has credit
// there, in order; their values go out as PUTs, under one lock of the
// link.
func (n *Node) wakeParked(ch channel.ID) {
	q, sc := n.cr.waits[ch], n.creditOn(ch)
	if q == nil || sc == nil || sc.n <= 0 || q.waiting() == 0 {
		return
	}
	k := sc.n
	l := n.link(ch.Node())
	if l == nil {
		n.unparkAll(ch) // the link is down: linkDown fails them
		return
	}
	woken, vals := n.cr.woken[:0], n.cr.vals[:0]
	for len(woken) < k {
		p, ok := q.pop()
		if !ok {
			break
		}
		idx, ok := n.s.SendWaits(p.id, p.seq)
		if !ok {
			continue // ended since (Cancel drops it; this is a guard)
		}
		woken = append(woken, wokenSend{p.parkedSend, idx})
		vals = append(vals, p.v)
	}
	errs := slices.Grow(n.cr.errs[:0], len(vals))[:len(vals)]
	inRun := n.s.InRun()
	sent, err := l.putAll(ch, vals, errs, inRun)
	sc.n = k - sent
	if inRun && sent > 0 {
		n.markHeld(l)
	}
	for i, w := range woken {
		e := err
		if e == nil {
			e = errs[i]
		}
		// Not n.complete: a wait of one case that completes has no other
		// case to cancel, so no Cancel can come back for it.
		n.s.CompleteSend(w.id, w.seq, w.idx, e)
	}
	clear(vals) // drop the values and errors: the buffers outlive them
	clear(errs)
	n.cr.woken, n.cr.vals, n.cr.errs = woken[:0], vals[:0], errs[:0]
	n.maybeForget(ch, q)
}

// wokenSend is a parked send that credit completes, with the index its
// wait completes with.
type wokenSend struct {
	parkedSend
	idx int
}

// onlyIndex is the index a wait of one case completes with.
func onlyIndex(wt scheduler.Wait) int {
	if wt.Plain {
		return -1
	}
	return 0
}

// nextHead sends the first parked send on ch as an OP, if no head is out.
func (n *Node) nextHead(ch channel.ID) {
	q := n.cr.waits[ch]
	if q == nil || len(q.heads) > 0 {
		return
	}
	if sc := n.creditOn(ch); sc != nil && sc.n > 0 {
		n.wakeParked(ch)
		return
	}
	n.sendQueued(ch, q, false)
}

// sendParked sends the OP of parked send p on ch; it reports whether the
// send still waited (and so was sent, or failed with an error it sees).
func (n *Node) sendParked(ch channel.ID, p parkedSend) bool {
	wt, ok := n.s.WaitOf(p.id)
	if !ok || wt.Seq != p.seq || len(wt.Cases) != 1 {
		return false
	}
	l := n.link(ch.Node())
	if l == nil {
		return false // linkDown fails it
	}
	rcs := append(n.caseBuf[:0], scheduler.RemoteCase{Index: onlyIndex(wt), Case: wt.Cases[0]})
	return n.send(l, p.id, p.seq, rcs, 0)
}

// unparkAll sends every parked send on ch as an OP, in order: the home
// queues them as it queued every send before credit.
func (n *Node) unparkAll(ch channel.ID) {
	q := n.cr.waits[ch]
	if q != nil {
		n.sendQueued(ch, q, true)
	}
}

// sendQueued sends ch's parked sends as OPs in order, until one went out
// (every one, with all), and drops the queue once nothing of it is left.
func (n *Node) sendQueued(ch channel.ID, q *sendQueue, all bool) {
	for {
		p, ok := q.pop()
		if !ok {
			break
		}
		if n.sendParked(ch, p.parkedSend) {
			q.heads = append(q.heads, p.parkedSend)
			if !all {
				break
			}
		}
	}
	n.maybeForget(ch, q)
}

// maybeForget drops ch's queue once nothing of it is left.
func (n *Node) maybeForget(ch channel.ID, q *sendQueue) {
	n.queueChanged(ch, q)
	if len(q.heads) == 0 && q.waiting() == 0 {
		delete(n.cr.waits, ch)
		if sc := n.creditOn(ch); sc != nil && sc.q == q {
			sc.q = nil
		}
	}
}

// headAnswered notes the DONE of tasklet id's send on ch: a head is
// answered, so the next parked send goes (on credit, or as the new head);
// a send that failed (the channel closed) sends every parked one, to fail
// at the home the same way.
func (n *Node) headAnswered(id tasklet.ID, seq uint32, ch channel.ID, failed bool) {
	q := n.cr.waits[ch]
	if q == nil {
		return
	}
	q.dropHead(id, seq)
	if failed {
		n.unparkAll(ch)
		return
	}
	n.nextHead(ch)
}

// unqueueSend takes tasklet id's send on ch out of this node's queue (it
// stopped waiting: killed, or moving); it reports whether it was parked,
// so that no CANCEL need go to the home.
func (n *Node) unqueueSend(id tasklet.ID, seq uint32, ch channel.ID) bool {
	q := n.cr.waits[ch]
	if q == nil {
		return false
	}
	if q.dropHead(id, seq) {
		n.nextHead(ch)
		return false
	}
	if i := q.index(parkedSend{id, seq}); i >= 0 {
		q.parked[i] = waitingSend{}
		q.live--
		n.maybeForget(ch, q)
		return true
	}
	return false
}

// departParked sends the OPs of tasklet id's parked send and those parked
// before it, before id leaves this node: at the home it is then a wait
// that the migration redirects, and the senders before it keep their
// places.
func (n *Node) departParked(id tasklet.ID) {
	wt, ok := n.s.WaitOf(id)
	if !ok || len(wt.Cases) != 1 || wt.Cases[0].Dir != tasklet.DirSend {
		return
	}
	ch := wt.Cases[0].Chan
	q := n.cr.waits[ch]
	if q == nil {
		return
	}
	if q.dropHead(id, wt.Seq) {
		n.nextHead(ch) // id's DONE now goes where it goes
		return
	}
	if q.index(parkedSend{id, wt.Seq}) < 0 {
		return
	}
	for {
		p, ok := q.pop()
		if !ok {
			break
		}
		sent := n.sendParked(ch, p.parkedSend)
		if p.id == id {
			break // a wait that moves is no head of this node's
		}
		if sent {
			q.heads = append(q.heads, p.parkedSend)
		}
	}
	n.maybeForget(ch, q)
}

// ReleaseCreditWaits sends the OP of every send parked on this node for
// credit, in order, so that each waits at its channel's home as a remote
// sender, as sends did before credit. Call it (on the scheduler's
// goroutine, with s.Do) before a snapshot that other nodes' snapshots must
// match, as package cluster's checkpoint barrier does: a parked send is
// link state, which no snapshot holds, so without it a restored sender
// would wait for credit that no node remembers. The OPs are sent at once.
func (n *Node) ReleaseCreditWaits() {
	if len(n.cr.waits) == 0 {
		return
	}
	for ch := range n.cr.waits {
		n.unparkAll(ch)
	}
	n.sendWaiting() // at once, not at the next idle (see flush): the pause counts the frames sent
	if n.s.InRun() {
		n.flush()
	}
}

// creditWaitsLinkDown forgets the queues of channels homed at peer: the
// link's end fails their senders (linkDown).
func (n *Node) creditWaitsLinkDown(peer uint16) {
	for ch := range n.cr.waits {
		if n.link(ch.Node()) == nil {
			delete(n.cr.waits, ch)
		}
	}
	for ch := range n.cr.told {
		if n.link(ch.Node()) == nil {
			delete(n.cr.told, ch)
		}
	}
	for key, k := range n.cr.elsewhere {
		if key.peer == peer {
			delete(n.cr.elsewhere, key)
			n.s.AddSendersElsewhere(key.ch, -k)
		}
	}
}
