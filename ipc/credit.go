package ipc

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// A send to a buffered channel of another node need not wait for the
// round trip: once the channel's home granted this node credit, a plain
// Send completes at once and its value travels as a PUT (in one PUTS frame
// with the sends that follow it on that channel, puts.go), in the link's
// order with everything else this node sends there, so the values of one
// sender arrive in the order sent. This is what lets a stream between two
// processes run at the rate the nodes can encode and apply values, rather
// than one scheduler slice per value and round trip.
//
// The home grants credit (GRANT: channel, n) when a send of this node on
// the channel completed there the ordinary way (OP, DONE) and the buffer
// has room and no sender waits: as much as the room (at most maxGrant),
// so the first send of a stream is a round trip. It owes one credit back,
// at the end of its slice, for each PUT that went to a waiting receiver or
// into the buffer and left room behind it, with no sender waiting. (Many
// senders that keep a buffer full gain nothing from credit: their values
// would only queue ahead of the round trips that answer them.) A PUT that filled the buffer keeps its credit,
// and one that finds the buffer full waits in the channel's queue as a
// sender, as a posted value does, and keeps it too: while the buffer stays
// full the sender's credit runs out and its sends wait again, one as a
// round trip at the home and the rest on their node behind it
// (creditwait.go), answered as the receiver makes room. So beyond
// its capacity a channel holds at most one grant per sending node. Credit
// lost that way comes back when a batch finds the buffer empty (topUp,
// puts.go). A PUT that finds the channel closed is still taken (the send
// completed on its node before the close was known there, so it comes
// before the close, and receivers drain it like any buffered value), and
// the home withdraws the credit (GRANT with n = 0): the sender's next
// send is a round trip and fails with channel.ErrClosed as before. Only a
// PUT to a channel already closed, drained and freed is dropped (logged). Sends
// to unbuffered channels always wait for their rendezvous (OP, DONE), as
// sends of a select with other cases.
//
// Credits are link state: they are forgotten when the link goes, and are
// not part of a snapshot (a checkpoint's flush rounds deliver the PUTs
// and GRANTs in flight, each one frame).

// maxGrant bounds a grant, and so a channel's overflow per sending node.
const maxGrant = 1024

// grantKey is a (peer, channel of this node) pair that holds credit.
type grantKey struct {
	peer uint16
	ch   channel.ID
}

// credits is the scheduler-goroutine state of sends without waiting.
type credits struct {
	have      map[channel.ID]*sendCredit // credit of this node on other nodes' channels
	last      *sendCredit                // have[lastCh], the one a stream uses
	lastCh    channel.ID
	granted   map[grantKey]int          // credit of peers on this node's channels: held, owed, or in PUTs on their way
	owed      map[grantKey]int          // credit to give back at the end of the slice
	owedTo    []grantKey                // owed's keys, in order
	waits     map[channel.ID]*sendQueue // sends of this node waiting for credit (creditwait.go)
	woken     []wokenSend               // wakeParked's buffers
	vals      []any
	errs      []error
	dirty     []channel.ID       // channels whose parked sends changed (sendWaiting)
	heldFor   int                // flushes that held dirty back (flush)
	told      map[channel.ID]int // parked sends each home was told of
	elsewhere map[grantKey]int   // sends parked at peers on this node's channels
}

// put sends the value of tasklet id's send on c (homed at l's peer; its
// only case, idx) without waiting, if this node has credit there, and
// completes the send; it reports whether it did.
func (n *Node) put(l *link, id tasklet.ID, wait uint32, idx int, c *tasklet.Case) bool {
	sc := n.creditOn(c.Chan)
	if sc == nil || sc.n <= 0 {
		return false
	}
	inRun := n.s.InRun()
	err := l.put(c.Chan, c.Value, inRun)
	if err == nil {
		sc.n--
		if inRun {
			n.markHeld(l)
		}
	}
	n.complete(completion{id: id, seq: wait, home: -1, nothing: true}, idx, nil, err)
	return true
}

// SendNow implements scheduler.RemoteSender: a plain send on ch, homed at
// another node, completes at once if this node has credit there, without
// the tasklet blocking and being completed as put does. Anything unusual
// (no credit, no link, outside a run, a value that cannot be sent) is left
// to Op, which fails the send with the reason.
func (n *Node) SendNow(_ tasklet.ID, ch channel.ID, v any) bool {
	sc := n.creditOn(ch)
	if sc == nil || sc.n <= 0 || !n.s.InRun() {
		return false
	}
	l := n.link(ch.Node())
	if l == nil || l.put(ch, v, true) != nil {
		return false
	}
	sc.n--
	n.markHeld(l)
	return true
}

// onPut applies a PUT from a peer to a channel of this node.
func (n *Node) onPut(m *message) {
	key := grantKey{m.From, m.Chan}
	held := n.cr.granted[key] > 0
	if held {
		n.cr.granted[key]--
	}
	took, err := n.s.Put(m.Chan, m.Value)
	if err != nil {
		// The channel is gone (closed, drained and freed): nothing can take
		// the value any more.
		n.log.Warn("ipc: a value a peer sent without waiting was dropped: its channel is gone", "peer", m.From, "chan", m.Chan, "err", err.Error())
	}
	switch {
	case err != nil || n.chanClosed(m.Chan):
		if held || n.cr.owed[key] > 0 {
			n.withdraw(key)
		}
	case took && held && n.hasRoom(m.Chan):
		n.cr.granted[key]++ // the credit goes back to the peer
		n.owe(key, 1)
	}
}

// withdraw takes back the credit of key's peer on key's channel: a closed
// channel took the values sent on it (their sends came before the close)
// but takes no more sends, so the peer's next send is a round trip that
// fails with channel.ErrClosed.
func (n *Node) withdraw(key grantKey) {
	delete(n.cr.granted, key)
	delete(n.cr.owed, key)
	if l := n.link(key.peer); l != nil {
		n.queue(l, &message{Kind: kGrant, Chan: key.ch})
	}
}

// grantOnDone gives peer credit on channel ch of this node after a send of
// its tasklet completed there, unless it holds some already.
func (n *Node) grantOnDone(peer uint16, ch channel.ID) {
	key := grantKey{peer, ch}
	if n.cr.granted[key] > 0 || n.cr.owed[key] > 0 {
		return
	}
	c := n.s.Channel(ch)
	if c == nil || c.Cap() == 0 || c.Closed() || c.Len() >= c.Cap() || c.HasSenders() {
		return
	}
	g := min(c.Cap()-c.Len(), maxGrant)
	n.cr.granted[key] = g
	n.owe(key, g)
}

// chanClosed reports whether channel ch of this node is closed (or gone).
func (n *Node) chanClosed(ch channel.ID) bool {
	c := n.s.Channel(ch)
	return c == nil || c.Closed()
}

// hasRoom reports whether channel ch of this node has room in its buffer
// and no sender waiting for it.
func (n *Node) hasRoom(ch channel.ID) bool {
	c := n.s.Channel(ch)
	return c != nil && c.Len() < c.Cap() && !c.HasSenders()
}

func (n *Node) owe(key grantKey, k int) {
	if n.cr.owed[key] == 0 {
		n.cr.owedTo = append(n.cr.owedTo, key)
	}
	n.cr.owed[key] += k
}

// sendGrants queues the credit owed to peers (flush calls it).
func (n *Node) sendGrants() {
	for _, key := range n.cr.owedTo {
		k := n.cr.owed[key]
		delete(n.cr.owed, key)
		if k <= 0 {
			continue
		}
		if l := n.link(key.peer); l != nil {
			n.queue(l, &message{Kind: kGrant, Chan: key.ch, Idx: k})
		}
	}
	n.cr.owedTo = n.cr.owedTo[:0]
}

// onGrant adds (or, with 0, withdraws) credit on another node's channel.
func (n *Node) onGrant(m *message) {
	if m.Idx == 0 {
		n.dropCredit(m.Chan)
		n.unparkAll(m.Chan) // to fail at the home, as sends after a close do
		return
	}
	sc := n.creditOn(m.Chan)
	if sc == nil {
		sc = &sendCredit{}
		n.cr.have[m.Chan] = sc
	}
	sc.n = min(sc.n+m.Idx, maxGrant)
	if len(n.cr.waits) > 0 {
		n.wakeParked(m.Chan)
	}
}

// sendCredit is this node's credit on a channel of another node, and its
// senders waiting for more (creditwait.go).
type sendCredit struct {
	n int
	q *sendQueue // waits[ch], or nil
}

// creditOn is this node's credit on ch, nil if ch's home never granted
// any (or withdrew it).
func (n *Node) creditOn(ch channel.ID) *sendCredit {
	if n.cr.last != nil && n.cr.lastCh == ch {
		return n.cr.last
	}
	sc := n.cr.have[ch]
	if sc != nil {
		n.cr.last, n.cr.lastCh = sc, ch
	}
	return sc
}

// dropCredit forgets this node's credit on ch.
func (n *Node) dropCredit(ch channel.ID) {
	delete(n.cr.have, ch)
	if n.cr.lastCh == ch {
		n.cr.last = nil
	}
}

// creditsLinkDown forgets the credit that depended on the link to peer.
func (n *Node) creditsLinkDown(peer uint16) {
	for ch := range n.cr.have {
		if n.link(ch.Node()) == nil {
			n.dropCredit(ch)
		}
	}
	for key := range n.cr.granted {
		if key.peer == peer {
			delete(n.cr.granted, key)
		}
	}
	for key := range n.cr.owed {
		if key.peer == peer {
			delete(n.cr.owed, key)
		}
	}
}
