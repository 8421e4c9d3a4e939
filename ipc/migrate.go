package ipc

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Migration moves a suspended tasklet between nodes:
//
//  1. The owner (scheduler goroutine) emigrates it: the tasklet leaves its
//     scheduler, its queue entries on the owner's channels become remote
//     waiters whose DONEs go to the target. Homes this node sent frames
//     nobody answers (PUTs, a CLOSE, a CANCEL) are fenced first (see fence); then it
//     is encoded with its timers into a MIGRATE with the next epoch. DONEs
//     for it that arrive meanwhile wait.
//  2. The target refuses an epoch not newer than one it has seen for the
//     tasklet (a stale owner), else immigrates it (taking back its remote
//     waiters on the target's channels) and answers MIGRATED.
//  3. On MIGRATED the owner forwards the DONEs that waited and sends
//     REDIRECT to the other homes of the tasklet's wait; until each home
//     answers REDIRECTED, DONEs still addressed to the owner are forwarded.
//     Then the owner sends SETTLED. The target moves the tasklet on only
//     once settled, so no DONE or REDIRECT of one move can be overtaken by
//     the next move. A refused move puts the tasklet back where it was.

// move is a tasklet this node is sending away: awaiting the FENCED of
// the homes it fenced, then (sent) MIGRATED.
type move struct {
	to     uint16
	epoch  uint64
	seq    uint32 // the tasklet's wait at departure
	em     *scheduler.Emigration
	local  reg         // its wait's cases on this node's channels
	homes  []uint16    // other homes of its wait, to redirect
	fences []fenceWait // the homes' FENCEDs it waits for before MIGRATE
	sent   bool        // MIGRATE went out
	queued []message   // DONEs for it that arrived meanwhile
	res    chan<- error
}

// forward is a tasklet that left, whose homes are being redirected.
type forward struct {
	to      uint16
	seq     uint32
	waiting []uint16 // homes that have not answered REDIRECTED yet
}

// inherit is a tasklet that arrived here and is not settled yet: its old
// node may still forward DONEs for it or redirect the homes of its wait.
type inherit struct {
	prev  uint16
	seq   uint32 // the wait it arrived in
	relay bool   // homes are being redirected: CANCELs for seq go via prev
}

type migrateReq struct {
	to  uint16
	res chan<- error
}

// Migrate moves tasklet id, which runs on this node, to node `to` and
// returns once `to` has taken it (it goes on running there) or refused it
// (it goes on running here; the error wraps ErrRefused). A blocked tasklet
// keeps its place in every channel queue. Call it from any goroutine but
// the scheduler's, whose help it needs.
//
// A move that would fill the link's queue is not started (ErrLinkBusy):
// the tasklet goes on running here.
//
// If the link to `to` fails before the answer, the outcome is unknown and
// the tasklet is not resumed here (it may be running there); the error
// wraps ErrLinkDown.
func (n *Node) Migrate(ctx context.Context, id tasklet.ID, to uint16) error {
	if to == n.id {
		return fmt.Errorf("ipc: migrate %v: node %d is this node", id, to)
	}
	res := make(chan error, 1)
	n.s.Do(func(*scheduler.Scheduler) { n.startMigrate(id, to, res) })
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("ipc: migrate %v to node %d: %w (the move may still complete)", id, to, ctx.Err())
	case <-n.quit:
		return fmt.Errorf("ipc: migrate %v to node %d: %w", id, to, ErrNodeClosed)
	}
}

func (n *Node) startMigrate(id tasklet.ID, to uint16, res chan<- error) {
	if _, ok := n.inherited[id]; ok {
		n.parked[id] = append(n.parked[id], migrateReq{to, res})
		return
	}
	fail := func(err error) { res <- fmt.Errorf("ipc: migrate %v to node %d: %w", id, to, err) }
	if n.moving[id] != nil {
		fail(ErrMigrating)
		return
	}
	l := n.link(to)
	if l == nil {
		fail(ErrNoRoute)
		return
	}
	if len(n.cr.waits) > 0 {
		n.departParked(id)
	}
	em, err := n.s.Emigrate(id, id.Node())
	if err != nil {
		fail(err)
		return
	}
	mv := &move{to: to, epoch: n.epochs[id] + 1, seq: em.Tasklet.Wait, em: em, res: res}
	mv.local = n.departing(mv)
	if mv.local.one.ch != 0 {
		n.regs[waitKey(id, mv.seq)] = mv.local
	}
	n.moving[id] = mv // DONEs for it wait in mv.queued from here on
	if n.fence(mv) {
		return // onFenced goes on
	}
	n.sendMigrate(mv)
}

// fence makes mv wait, on every link but the target's that carried a
// frame nobody answers (PUT, PUTS, CLOSE, CANCEL), for the home to answer a FENCE
// sent after it, and reports whether mv must wait. Without it, a value the
// tasklet sent on credit just before the move could still be on its way
// to (or in the input of) its home when the tasklet, now on the target,
// sends the next one there on another link, which could arrive first. A
// link with no such frame since its last FENCE needs a new one only if
// that FENCE is unanswered: what went before it, this tasklet's frames
// too, is applied once it is. The target's own link needs none: MIGRATE
// follows on it, in order.
func (n *Node) fence(mv *move) bool {
	for _, l := range n.links.Load().links() {
		if l.peer == mv.to {
			continue
		}
		if l.takeUnfenced() {
			if l.send(&message{Kind: kFence, ID: l.fenceSent + 1}) != nil {
				continue // the link is down: what it carried is lost with it
			}
			l.fenceSent++
		}
		if l.fenceDone < l.fenceSent {
			mv.fences = append(mv.fences, fenceWait{l.peer, l.fenceSent})
		}
	}
	return len(mv.fences) > 0
}

// fenceWait is a move's wait for a home's FENCED of at least seq.
type fenceWait struct {
	peer uint16
	seq  uint64
}

// onFence answers a FENCE once everything its sender sent before it is
// applied here, which is now: a link's frames are handled in order.
func (n *Node) onFence(m *message) {
	if l := n.link(m.From); l != nil {
		l.send(&message{Kind: kFenced, ID: m.ID})
	}
}

// onFenced records a home's answer and sends on the moves it was the last
// to wait for.
func (n *Node) onFenced(m *message) {
	l := n.link(m.From)
	if l == nil || m.ID > l.fenceSent || m.ID <= l.fenceDone {
		return // of an older link to that node, or stale
	}
	l.fenceDone = m.ID
	n.unfence(m.From, m.ID)
}

// unfence ends the waits for peer's FENCEDs up to seq (every one, for a
// link that went down) and sends on the moves that waited only for them.
func (n *Node) unfence(peer uint16, seq uint64) {
	for _, mv := range n.moving {
		if mv.sent || len(mv.fences) == 0 {
			continue
		}
		mv.fences = slices.DeleteFunc(mv.fences, func(w fenceWait) bool { return w.peer == peer && w.seq <= seq })
		if len(mv.fences) == 0 {
			n.sendMigrate(mv)
		}
	}
}

// sendMigrate sends the MIGRATE of mv, or, if it cannot, puts the tasklet
// back and fails the move.
func (n *Node) sendMigrate(mv *move) {
	id := mv.em.Tasklet.ID
	var err error
	if l := n.link(mv.to); l == nil {
		err = ErrNoRoute
	} else {
		var raw []byte
		raw, err = n.reg.DumpTasklet(&mv.em.Tasklet)
		if err == nil {
			err = l.sendIfRoom(&message{Kind: kMigrate, Epoch: mv.epoch, Flag: len(mv.homes) > 0, Raw: raw, Timers: mv.em.Timers})
		}
	}
	if err != nil {
		n.takeBack(mv)
		mv.res <- fmt.Errorf("ipc: migrate %v to node %d: %w", id, mv.to, err)
		return
	}
	mv.sent = true
	n.setEpoch(id, mv.epoch)
}

// minSweep is the fewest epochs that call for a sweep.
const minSweep = 1024

// setEpoch records the newest epoch of tasklet id here. The record is
// needed while the tasklet is here or on its way out: an OP carries it,
// the next move numbers from it, and a MIGRATE not newer is refused. Once
// the tasklet left and settled, or ended, no frame can bring an older epoch
// of it here: only its owner sends its MIGRATE, over a link that keeps
// order, and the owner numbers from what it was given. So the records of
// tasklets gone are swept, each time the map doubles; a cluster whose
// balancer moves short-lived tasklets kept one for every tasklet that
// ever moved through a node, for good.
func (n *Node) setEpoch(id tasklet.ID, epoch uint64) {
	n.epochs[id] = epoch
	if len(n.epochs) < max(n.sweepAt, minSweep) {
		return
	}
	for t := range n.epochs {
		if !n.s.Has(t) && n.moving[t] == nil && n.fwd[t] == nil && !n.hasInherited(t) && len(n.parked[t]) == 0 {
			delete(n.epochs, t)
		}
	}
	n.sweepAt = 2 * len(n.epochs)
}

func (n *Node) hasInherited(id tasklet.ID) bool {
	_, ok := n.inherited[id]
	return ok
}

func waitKey(id tasklet.ID, seq uint32) scheduler.RemoteWait {
	return scheduler.RemoteWait{Node: id.Node(), Tasklet: id, Seq: seq}
}

// departing reads the wait of a leaving tasklet: its cases on this node's
// channels (now remote waiters here, whose DONEs go to the target) and the
// homes other than this node and the target, which must be redirected.
func (n *Node) departing(mv *move) reg {
	ts := &mv.em.Tasklet
	local := reg{to: mv.to, epoch: mv.epoch}
	if ts.State != tasklet.Blocked {
		return local
	}
	first := true
	for i, c := range ts.Cases {
		if !isChanCase(&c) {
			continue
		}
		idx := i
		if ts.Plain {
			idx = -1
		}
		switch h := c.Chan.Node(); {
		case h == n.id:
			rc := regCase{idx: idx, ch: c.Chan, recv: c.Dir == tasklet.DirRecv}
			if first {
				local.one, first = rc, false
			} else {
				local.more = append(local.more, rc)
			}
		case h != mv.to && !slices.Contains(mv.homes, h):
			mv.homes = append(mv.homes, h)
		}
	}
	return local
}

// takeBack puts a tasklet whose move failed back into this scheduler and
// hands it the DONEs that waited for it.
func (n *Node) takeBack(mv *move) {
	id := mv.em.Tasklet.ID
	delete(n.moving, id)
	delete(n.regs, waitKey(id, mv.seq))
	if err := n.s.Immigrate(mv.em, id.Node()); err != nil {
		n.log.Error("ipc: a tasklet whose move failed could not be taken back; it is lost", "tasklet", id, "err", err)
		return
	}
	for i := range mv.queued {
		n.onDone(&mv.queued[i])
	}
}

// onMigrate takes in a tasklet from another node, or refuses it.
func (n *Node) onMigrate(m *message) {
	id := m.Tasklet
	refuse := func(why string) {
		n.log.Warn("ipc: migration refused", "tasklet", id, "from", m.From, "epoch", m.Epoch, "why", why)
		if l := n.link(m.From); l != nil {
			l.send(&message{Kind: kMigrated, Tasklet: id, Epoch: m.Epoch, Text: why})
		}
	}
	if m.Err != nil {
		refuse(m.Err.Error())
		return
	}
	if seen := n.epochs[id]; m.Epoch <= seen {
		refuse(fmt.Sprintf("%v: epoch %d, but this node has seen epoch %d of tasklet %v", ErrStaleEpoch, m.Epoch, seen, id))
		return
	}
	em := &scheduler.Emigration{Tasklet: m.Record.TaskletState, Timers: m.Timers}
	if err := n.s.Immigrate(em, id.Node()); err != nil {
		refuse(err.Error())
		return
	}
	n.setEpoch(id, m.Epoch)
	delete(n.regs, waitKey(id, m.Record.Wait)) // Immigrate took that wait back
	delete(n.fwd, id)
	n.inherited[id] = inherit{prev: m.From, seq: m.Record.Wait, relay: m.Flag}
	if l := n.link(m.From); l != nil {
		l.send(&message{Kind: kMigrated, Tasklet: id, Epoch: m.Epoch})
	}
}

// onMigrated ends a move this node started.
func (n *Node) onMigrated(m *message) {
	mv := n.moving[m.Tasklet]
	if mv == nil || mv.epoch != m.Epoch || mv.to != m.From {
		return
	}
	id := m.Tasklet
	if m.Text != "" {
		n.takeBack(mv)
		mv.res <- fmt.Errorf("ipc: migrate %v to node %d: %w: %s", id, mv.to, ErrRefused, m.Text)
		return
	}
	delete(n.moving, id)
	for i := range mv.queued {
		n.forwardDone(mv.to, &mv.queued[i])
	}
	f := &forward{to: mv.to, seq: mv.seq}
	for _, h := range mv.homes {
		if l := n.link(h); l != nil && l.send(&message{Kind: kRedirect, Tasklet: id, Seq: mv.seq, Node: mv.to, Epoch: mv.epoch}) == nil {
			f.waiting = append(f.waiting, h)
		}
	}
	if len(f.waiting) > 0 {
		n.fwd[id] = f
	} else {
		n.settle(mv.to, id)
	}
	mv.res <- nil
}

// onRedirect points a wait queued here at the tasklet's new node.
func (n *Node) onRedirect(m *message) {
	key := waitKey(m.Tasklet, m.Seq)
	if r, ok := n.regs[key]; ok && m.Epoch > r.epoch {
		r.to, r.epoch = m.Node, m.Epoch
		n.regs[key] = r
	}
	if l := n.link(m.From); l != nil {
		l.send(&message{Kind: kRedirected, Tasklet: m.Tasklet, Seq: m.Seq})
	}
}

// onRedirected counts a home's answer; the last one settles the tasklet.
func (n *Node) onRedirected(m *message) {
	f := n.fwd[m.Tasklet]
	if f == nil || f.seq != m.Seq {
		return
	}
	f.waiting = slices.DeleteFunc(f.waiting, func(h uint16) bool { return h == m.From })
	if len(f.waiting) == 0 {
		delete(n.fwd, m.Tasklet)
		n.settle(f.to, m.Tasklet)
	}
}

func (n *Node) settle(to uint16, id tasklet.ID) {
	if l := n.link(to); l != nil {
		l.send(&message{Kind: kSettled, Tasklet: id})
	}
}

// onSettled: every home of an inherited wait knows where the tasklet is.
func (n *Node) onSettled(m *message) {
	if inh, ok := n.inherited[m.Tasklet]; ok && inh.prev == m.From {
		n.unpark(m.Tasklet)
	}
}

// unpark ends an inheritance and starts the moves that waited for it.
func (n *Node) unpark(id tasklet.ID) {
	delete(n.inherited, id)
	reqs := n.parked[id]
	delete(n.parked, id)
	for _, r := range reqs {
		n.startMigrate(id, r.to, r.res)
	}
}

// migrationsLinkDown settles what depended on the link to peer.
func (n *Node) migrationsLinkDown(peer uint16) {
	for id, mv := range n.moving {
		switch {
		case !mv.sent && mv.to == peer:
			// It never left: it goes on here.
			n.takeBack(mv)
			mv.res <- fmt.Errorf("ipc: migrate %v to node %d: %w before the move started; the tasklet goes on here", id, peer, ErrLinkDown)
			continue
		case mv.to != peer:
			continue
		}
		delete(n.moving, id)
		delete(n.regs, waitKey(id, mv.seq))
		for i := range mv.queued {
			n.giveBack(&mv.queued[i], "the move's target is unreachable")
		}
		n.log.Error("ipc: the link failed during a migration; the tasklet is not resumed here and may be lost with the target",
			"tasklet", id, "to", peer)
		mv.res <- fmt.Errorf("ipc: migrate %v to node %d: %w before the move was acknowledged; the tasklet is not resumed here", id, peer, ErrLinkDown)
	}
	// What that home had not applied is lost with the link: no move waits
	// for it any more.
	n.unfence(peer, math.MaxUint64)
	for id, f := range n.fwd {
		if f.to == peer {
			delete(n.fwd, id)
			continue
		}
		f.waiting = slices.DeleteFunc(f.waiting, func(h uint16) bool { return h == peer })
		if len(f.waiting) == 0 {
			delete(n.fwd, id)
			n.settle(f.to, id)
		}
	}
	for id, inh := range n.inherited {
		if inh.prev == peer {
			n.unpark(id)
		}
	}
}
