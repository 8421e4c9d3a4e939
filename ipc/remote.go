package ipc

import (
	"fmt"
	"slices"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// This file is the node's side of scheduler.Remote and the messages that
// carry channel operations: OP, DONE, CANCEL, RETURN, POST, CLOSE.
//
// A remote wait is queued at each home under the key (tasklet's birth node,
// tasklet, wait sequence): the birth node is in the tasklet's ID, so every
// node can name the key of any wait, wherever the tasklet has moved since.
// Where to send the DONE is kept beside the key (reg.to) and moved by
// REDIRECT when the tasklet migrates.

// reg is a wait of another node's tasklet queued here.
type reg struct {
	to    uint16 // where the tasklet is: DONE goes there
	epoch uint64 // the tasklet's migration epoch when to was learned
	one   regCase
	more  []regCase
}

type regCase struct {
	idx  int
	ch   channel.ID
	recv bool
}

func newReg(to uint16, epoch uint64, cases []scheduler.RemoteCase) reg {
	r := reg{to: to, epoch: epoch}
	for i, rc := range cases {
		c := regCase{idx: rc.Index, ch: rc.Chan, recv: rc.Dir == tasklet.DirRecv}
		if i == 0 {
			r.one = c
		} else {
			r.more = append(r.more, c)
		}
	}
	return r
}

func (r *reg) chanOf(idx int) (channel.ID, bool) {
	if r.one.idx == idx {
		return r.one.ch, r.one.recv
	}
	for _, c := range r.more {
		if c.idx == idx {
			return c.ch, c.recv
		}
	}
	return 0, false
}

func caseChan(cases []scheduler.RemoteCase, idx int) (channel.ID, bool) {
	for _, rc := range cases {
		if rc.Index == idx {
			return rc.Chan, rc.Dir == tasklet.DirRecv
		}
	}
	return 0, false
}

// completion marks the Complete the node is running, so that the Cancel
// the scheduler calls from inside it does not cancel at the home that just
// answered (its whole wait there is over) or, for an op that failed before
// anything was sent, anywhere.
type completion struct {
	active  bool
	id      tasklet.ID
	seq     uint32
	home    int // a home not to send CANCEL to, or -1
	nothing bool
}

func (n *Node) complete(c completion, idx int, v any, err error) bool {
	prev := n.finishing
	c.active = true
	n.finishing = c
	ok := n.s.Complete(c.id, c.seq, idx, v, err)
	n.finishing = prev
	return ok
}

func isChanCase(c *tasklet.Case) bool { return c.Dir == tasklet.DirRecv || c.Dir == tasklet.DirSend }

// remoteHomes lists the distinct homes other than this node of the channel
// cases, in case order, into buf.
func (n *Node) remoteHomes(buf []uint16, cases []tasklet.Case) []uint16 {
	hs := buf[:0]
	for i := range cases {
		if !isChanCase(&cases[i]) {
			continue
		}
		if h := cases[i].Chan.Node(); h != n.id && !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	return hs
}

// Op implements scheduler.Remote: tasklet id blocked in wait `wait` on
// cases, some homed at other nodes. It sends one OP per home, or fails the
// wait at once with an error the tasklet sees (ErrRemoteSelect, ErrNoRoute,
// or a value that cannot be encoded).
func (n *Node) Op(id tasklet.ID, wait uint32, cases []tasklet.Case) {
	var sc *sendCredit
	if len(cases) == 1 && cases[0].Dir == tasklet.DirSend {
		if sc = n.creditOn(cases[0].Chan); sc != nil && sc.n <= 0 && n.park(id, wait, sc, cases[0].Chan, cases[0].Value) {
			return // waits here for credit (creditwait.go)
		}
	}
	only, _ := n.s.SendWaits(id, wait) // -1 for a plain wait, without WaitOf's copy of its case
	plain := only == -1
	index := func(i int) int {
		if plain {
			return -1
		}
		return i
	}
	fail := func(i int, err error, sent bool) {
		n.complete(completion{id: id, seq: wait, home: -1, nothing: !sent}, index(i), nil, err)
	}
	if len(cases) == 1 { // a plain Send or Recv: the common case, kept short
		c := &cases[0]
		l := n.link(c.Chan.Node())
		if l == nil {
			fail(0, fmt.Errorf("ipc: tasklet %v waits on %v of node %d: %w", id, c.Chan, c.Chan.Node(), ErrNoRoute), false)
			return
		}
		if c.Dir == tasklet.DirSend && n.put(l, id, wait, index(0), c) {
			return // sent without waiting, on credit (credit.go)
		}
		rcs := append(n.caseBuf[:0], scheduler.RemoteCase{Index: index(0), Case: *c})
		if n.send(l, id, wait, rcs, 0) && sc != nil {
			n.addHead(sc, c.Chan, parkedSend{id, wait}) // it stands for the sends parked after it
		}
		return
	}
	homes := n.remoteHomes(n.homeBuf[0], cases)
	n.homeBuf[0] = homes
	local, timeout, send := false, false, -1
	for i := range cases {
		c := &cases[i]
		switch {
		case isChanCase(c) && c.Chan.Node() == n.id:
			local = true
		case c.Dir == tasklet.DirSend && send < 0:
			send = i
		case c.Dir == tasklet.DirTimeout:
			timeout = true
		}
	}
	if send >= 0 && (len(homes) > 1 || local || timeout) {
		fail(send, fmt.Errorf("%w (tasklet %v, case %d sends on %v of node %d)", ErrRemoteSelect, id, send, cases[send].Chan, cases[send].Chan.Node()), false)
		return
	}
	var links [4]*link
	ls := links[:0]
	for _, h := range homes {
		l := n.link(h)
		if l == nil {
			i := firstCaseAt(cases, h)
			fail(i, fmt.Errorf("ipc: tasklet %v waits on %v of node %d: %w", id, cases[i].Chan, h, ErrNoRoute), false)
			return
		}
		ls = append(ls, l)
	}
	for k, h := range homes {
		rcs := n.caseBuf[:0]
		for i := range cases {
			if isChanCase(&cases[i]) && cases[i].Chan.Node() == h {
				rcs = append(rcs, scheduler.RemoteCase{Index: index(i), Case: cases[i]})
			}
		}
		if !n.send(ls[k], id, wait, rcs, k) {
			return
		}
	}
}

// send sends the OP of one home (the k-th) of a wait, or fails the wait if
// it cannot be sent; it reports whether it was sent.
func (n *Node) send(l *link, id tasklet.ID, wait uint32, rcs []scheduler.RemoteCase, k int) bool {
	var epoch uint64
	if len(n.epochs) > 0 {
		epoch = n.epochs[id]
	}
	m := message{Kind: kOp, Tasklet: id, Seq: wait, Epoch: epoch, Cases: rcs}
	err := n.queue(l, &m)
	idx := rcs[0].Index
	clear(rcs) // drop the values: the buffer outlives them
	n.caseBuf = rcs[:0]
	if err != nil {
		n.complete(completion{id: id, seq: wait, home: -1, nothing: k == 0}, idx, nil, err)
		return false
	}
	return true
}

// queue sends m on l from the scheduler's goroutine. Inside a run the
// frame is held until the scheduler's slice ends (flush), so that the OPs
// and DONEs of a slice's steps leave for each peer in one write and arrive
// as one batch; outside a run it goes at once. Every frame is still one
// message, in the order sent, so frame counts (a checkpoint's flush
// rounds) stay exact.
func (n *Node) queue(l *link, m *message) error {
	if !n.s.InRun() {
		return l.send(m)
	}
	if err := l.hold(m); err != nil {
		return err
	}
	n.markHeld(l)
	return nil
}

// markHeld puts l on the list of links that flush sends.
func (n *Node) markHeld(l *link) {
	if !l.held {
		l.held = true
		n.held = append(n.held, l)
	}
}

// flush sends what the slice held; the scheduler calls it (SetFlush).
// How many sends wait here for credit (WAITING) is told only once the
// scheduler idles (poll), leaves its run, or went through waitingFlushes
// slices since the count changed: a stream's senders park over several
// bursts of steps, a flush each, and the count they end at is the one
// worth telling (it was three to four frames a round of
// BenchmarkRemoteStreamTwoProcesses, for counts nobody read).
func (n *Node) flush() {
	if len(n.cr.owedTo) > 0 {
		n.sendGrants()
	}
	if len(n.cr.dirty) > 0 {
		if n.cr.heldFor++; n.cr.heldFor >= waitingFlushes || !n.s.InRun() {
			n.sendWaiting()
		}
	}
	n.flushHeld()
}

// waitingFlushes is the most slices a busy scheduler holds back a changed
// count of sends waiting for credit (see flush): 2,048 steps in bursts of
// 256.
const waitingFlushes = 8

// flushHeld sends what the slice held on each link.
func (n *Node) flushHeld() {
	for i, l := range n.held {
		l.held = false
		l.flush()
		n.held[i] = nil
	}
	n.held = n.held[:0]
}

func firstCaseAt(cases []tasklet.Case, home uint16) int {
	for i := range cases {
		if isChanCase(&cases[i]) && cases[i].Chan.Node() == home {
			return i
		}
	}
	return -1
}

// Cancel implements scheduler.Remote: tasklet id stopped waiting (a kill,
// or another case fired); every home still holding the wait withdraws it.
// While a tasklet that arrived here blocked is being settled, CANCELs for
// that inherited wait go through its old node, which sent the wait's OPs:
// sent that way they cannot overtake them.
func (n *Node) Cancel(id tasklet.ID, wait uint32, cases []tasklet.Case) {
	skip := -1
	if f := n.finishing; f.active && f.id == id && f.seq == wait {
		if f.nothing {
			return
		}
		skip = f.home
	} else if len(cases) == 1 && cases[0].Dir == tasklet.DirSend && len(n.cr.waits) > 0 && n.unqueueSend(id, wait, cases[0].Chan) {
		return // it waited here for credit: the home never heard of it
	}
	var inh inherit
	relay := false
	if len(n.inherited) > 0 {
		inh, relay = n.inherited[id]
		relay = relay && inh.relay && inh.seq == wait
	}
	homes := n.remoteHomes(n.homeBuf[1], cases)
	n.homeBuf[1] = homes
	for _, h := range homes {
		if int(h) == skip {
			continue
		}
		l := n.link(h)
		if relay && h != inh.prev {
			if via := n.link(inh.prev); via != nil {
				l = via
			}
		}
		if l != nil {
			n.queue(l, &message{Kind: kCancel, Tasklet: id, Seq: wait, Node: h})
		}
		// Without a link the home cancels this node's waits itself.
	}
}

// Done implements scheduler.Remote: a wait queued here completed. The DONE
// goes to wherever the tasklet is now.
func (n *Node) Done(w scheduler.RemoteWait, idx int, v any, err error) {
	m := message{Kind: kDone, From: n.id, Tasklet: w.Tasklet, Seq: w.Seq, Idx: idx, Node: n.id, Value: v, Err: err}
	dest := w.Node
	if op := n.curOp; op != nil && op.Tasklet == w.Tasklet && op.Seq == w.Seq {
		n.curDone = true
		dest = op.From
		m.Chan, m.Recv = caseChan(op.Cases, idx)
	} else if r, ok := n.regs[w]; ok { // a wait that was queued here
		delete(n.regs, w)
		dest = r.to
		m.Chan, m.Recv = r.chanOf(idx)
	}
	if len(n.moving) > 0 && n.moving[w.Tasklet] != nil {
		n.moving[w.Tasklet].queued = append(n.moving[w.Tasklet].queued, m)
		return
	}
	if dest == n.id {
		n.onDone(&m)
		return
	}
	if err == nil && !m.Recv && m.Chan != 0 {
		n.grantOnDone(dest, m.Chan)
	}
	n.forwardDone(dest, &m)
}

// forwardDone sends a DONE on to node `to`; a DONE that cannot go anywhere
// gives its value back.
func (n *Node) forwardDone(to uint16, m *message) {
	if l := n.link(to); l != nil && n.queue(l, m) == nil {
		return
	}
	n.giveBack(m, fmt.Sprintf("no link to node %d, where tasklet %v is", to, m.Tasklet))
}

// onOp queues (or completes at once) the wait of another node's tasklet.
func (n *Node) onOp(m *message) {
	key := scheduler.RemoteWait{Node: m.Tasklet.Node(), Tasklet: m.Tasklet, Seq: m.Seq}
	prev, prevDone := n.curOp, n.curDone
	n.curOp, n.curDone = m, false
	n.s.RemoteOp(key, m.Cases)
	if !n.curDone {
		n.regs[key] = newReg(m.From, m.Epoch, m.Cases)
	}
	n.curOp, n.curDone = prev, prevDone
}

// onDone finishes the wait of a tasklet here. A DONE for a tasklet on its
// way elsewhere waits for the move's outcome; one for a tasklet that left
// follows it; one for a wait that is over (the tasklet was killed, or
// another case of its select won) gives a received value back.
func (n *Node) onDone(m *message) {
	if len(n.moving) > 0 && n.moving[m.Tasklet] != nil {
		n.moving[m.Tasklet].queued = append(n.moving[m.Tasklet].queued, *m)
		return
	}
	if len(n.fwd) > 0 && n.fwd[m.Tasklet] != nil {
		n.forwardDone(n.fwd[m.Tasklet].to, m)
		return
	}
	c := completion{id: m.Tasklet, seq: m.Seq, home: int(m.Node)}
	if !n.complete(c, m.Idx, m.Value, m.Err) {
		n.giveBack(m, "")
	}
	if len(n.cr.waits) > 0 && !m.Recv && m.Chan != 0 {
		n.headAnswered(m.Tasklet, m.Seq, m.Chan, m.Err != nil)
	}
}

// giveBack returns the value of a DONE that no wait took to its channel's
// home, where it is posted again: it is not lost, but it goes behind the
// values and senders that are in the channel now.
func (n *Node) giveBack(m *message, why string) {
	if !m.Recv || m.Err != nil || m.Chan == 0 {
		if why != "" {
			n.log.Warn("ipc: a completion could not be delivered", "tasklet", m.Tasklet, "why", why)
		}
		return
	}
	home := m.Chan.Node()
	if home == n.id {
		n.postBack(m.Chan, m.Value)
		return
	}
	if l := n.link(home); l != nil && n.queue(l, &message{Kind: kReturn, Chan: m.Chan, Value: m.Value}) == nil {
		return
	}
	n.log.Error("ipc: a received value is lost: its tasklet no longer waits and the channel's node is unreachable",
		"tasklet", m.Tasklet, "chan", m.Chan, "home", home, "value", m.Value)
}

// postBack posts a returned value into a local channel.
func (n *Node) postBack(ch channel.ID, v any) {
	if c := n.s.Channel(ch); c == nil || c.Closed() {
		n.log.Warn("ipc: a value given back to a closed channel is dropped", "chan", ch, "value", v)
		return
	}
	n.s.PostLocal(ch, v)
}

// onCancel withdraws a wait queued here, or relays the CANCEL to its home.
func (n *Node) onCancel(m *message) {
	if m.Node != n.id {
		if l := n.link(m.Node); l != nil {
			n.queue(l, m)
		}
		return
	}
	key := scheduler.RemoteWait{Node: m.Tasklet.Node(), Tasklet: m.Tasklet, Seq: m.Seq}
	n.s.CancelRemote(key)
	delete(n.regs, key)
}

// Post sends v on channel ch from outside any tasklet, like
// Scheduler.Post: to this node's scheduler, or to the channel's home node.
// It never blocks; it fails only if the home is unreachable or v cannot be
// encoded. Safe from any goroutine.
func (n *Node) Post(ch channel.ID, v any) error {
	home := ch.Node()
	if home == n.id {
		n.s.Post(ch, v)
		return nil
	}
	l := n.link(home)
	if l == nil {
		return fmt.Errorf("ipc: post to %v of node %d: %w", ch, home, ErrNoRoute)
	}
	return l.send(&message{Kind: kPost, Chan: ch, Value: v})
}

// CloseChannel closes channel ch at its home node, waking every tasklet
// blocked on it, wherever it runs. It returns once the request is on its
// way. Safe from any goroutine.
func (n *Node) CloseChannel(ch channel.ID) error {
	home := ch.Node()
	if home == n.id {
		n.s.Do(func(s *scheduler.Scheduler) {
			if err := s.Close(ch); err != nil {
				n.log.Warn("ipc: close failed", "chan", ch, "err", err)
			}
		})
		return nil
	}
	l := n.link(home)
	if l == nil {
		return fmt.Errorf("ipc: close %v of node %d: %w", ch, home, ErrNoRoute)
	}
	return l.send(&message{Kind: kClose, Chan: ch})
}

// CloseRemote implements scheduler.Remote: a tasklet of this node closed
// channel ch of another node. The CLOSE goes in the link's order, behind
// the PUTs and OPs this node sent there first. This node's credit on ch
// goes at once: a send made after the close must fail at the home, not
// travel as a PUT that a closed channel would still take (the home
// withdraws the credit too, but only once the CLOSE has arrived), and the
// sends parked here for credit go behind the CLOSE as OPs, to fail there,
// as a withdrawn grant sends them.
func (n *Node) CloseRemote(ch channel.ID) error {
	home := ch.Node()
	l := n.link(home)
	if l == nil {
		return fmt.Errorf("ipc: close %v of node %d: %w", ch, home, ErrNoRoute)
	}
	err := n.queue(l, &message{Kind: kClose, Chan: ch})
	n.dropCredit(ch)
	n.unparkAll(ch)
	return err
}

// linkDown cleans up after the link to peer closed (scheduler goroutine).
func (n *Node) linkDown(peer uint16) {
	// Waits of tasklets on peer, queued here: nobody could be told.
	for k, r := range n.regs {
		if r.to == peer {
			n.s.CancelRemote(k)
			delete(n.regs, k)
		}
	}
	// Tasklets here waiting on peer's channels.
	for _, info := range n.s.Tasklets() {
		if info.State != tasklet.Blocked {
			continue
		}
		wt, ok := n.s.WaitOf(info.ID)
		if !ok {
			continue
		}
		cases := wt.Cases
		i := firstCaseAt(cases, peer)
		if i < 0 {
			continue
		}
		idx := i
		if wt.Plain {
			idx = -1
		}
		err := fmt.Errorf("ipc: tasklet %v waits on %v of node %d: %w", info.ID, cases[i].Chan, peer, ErrLinkDown)
		n.complete(completion{id: info.ID, seq: wt.Seq, home: int(peer)}, idx, nil, err)
	}
	n.migrationsLinkDown(peer)
	n.creditsLinkDown(peer)
	n.creditWaitsLinkDown(peer)
}
