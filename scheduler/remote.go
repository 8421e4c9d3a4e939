package scheduler

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// RemoteWait names the wait of a tasklet on another node: the key of the
// remote waiters that stand for it in this node's channel queues.
type RemoteWait struct {
	Node    uint16
	Tasklet tasklet.ID
	Seq     uint32
}

// RemoteCase is one case of a remote tasklet's wait on a channel of this
// node, with its index in the tasklet's own select (-1 for a plain op).
type RemoteCase struct {
	Index int
	tasklet.Case
}

// remoteGroup is the set of queue entries of one remote wait here.
type remoteGroup struct {
	done bool
	refs []remoteRef
}

type remoteRef struct {
	ch   channel.ID
	idx  int32 // as its queue entry's Case
	send bool
}

// remoteOne is a remote wait of one case (a plain Send or Recv, the common
// one) in one allocation of 96 bytes: its group, its ref and its queue
// entry's Remote, three allocations a queued wait before.
type remoteOne struct {
	g   remoteGroup
	ref [1]remoteRef
	r   [1]channel.Remote
}

// RemoteOp carries out operations of a tasklet on another node on channels
// of this node (the home): the first ready case completes at once;
// otherwise every case waits in its channel's queue, in FIFO order with the
// local tasklets, until one fires or CancelRemote. Either way the outcome
// goes to Remote.Done. Cases on channels this node does not hold complete
// with an error.
func (s *Scheduler) RemoteOp(w RemoteWait, cases []RemoteCase) {
	defer s.settle()
	if s.rwaits[w] != nil {
		return // a repeated request: the wait is already queued here
	}
	for _, rc := range cases {
		c, err := s.chanFor(rc.Chan)
		if err != nil {
			s.remoteDone(w, rc.Index, nil, err)
			return
		}
		s.touchChan(c)
		switch rc.Dir {
		case tasklet.DirRecv:
			if v, ok := s.take(c); ok {
				s.remoteDone(w, rc.Index, v, nil)
				return
			}
			if c.Closed() {
				s.remoteDone(w, rc.Index, nil, channel.ErrClosed)
				return
			}
		case tasklet.DirSend:
			if c.Closed() {
				s.remoteDone(w, rc.Index, nil, channel.ErrClosed)
				return
			}
			if s.give(c, rc.Value) {
				s.remoteDone(w, rc.Index, nil, nil)
				return
			}
		}
	}
	var g *remoteGroup
	var rs []channel.Remote // the queue entries' Remotes, one a case
	if len(cases) == 1 {
		one := &remoteOne{}
		g, rs = &one.g, one.r[:]
		g.refs = one.ref[:0]
	} else { // a select: three allocations, whatever its cases
		g = &remoteGroup{refs: make([]remoteRef, 0, len(cases))}
		rs = make([]channel.Remote, len(cases))
	}
	for i, rc := range cases {
		if rc.Dir != tasklet.DirRecv && rc.Dir != tasklet.DirSend {
			continue
		}
		c := s.chans.get(uint64(rc.Chan))
		r := &rs[i]
		*r = channel.Remote{Node: w.Node, Tasklet: w.Tasklet, Seq: w.Seq, Value: rc.Value, Done: &g.done}
		entry := channel.Waiter{Case: int32(rc.Index), Value: r}
		if rc.Dir == tasklet.DirSend {
			c.PushSender(entry)
		} else {
			c.PushReceiver(entry)
		}
		g.refs = append(g.refs, remoteRef{ch: rc.Chan, send: rc.Dir == tasklet.DirSend, idx: int32(rc.Index)})
	}
	if len(g.refs) > 0 {
		s.rwait(w, g)
	}
}

func (s *Scheduler) rwait(w RemoteWait, g *remoteGroup) {
	if s.rwaits == nil {
		s.rwaits = make(map[RemoteWait]*remoteGroup)
	}
	s.rwaits[w] = g
}

// take takes a value for a receiver that does not wait in the queue (a
// remote tasklet, or a TryRecv): buffered first, then from a blocked sender,
// which wakes at the back of the run queue.
func (s *Scheduler) take(c *channel.Channel) (any, bool) {
	var w channel.Waiter
	if v, ok := c.BufPop(); ok {
		if c.PopSender(&w) {
			c.BufPush(w.Offered())
			s.senderDone(w)
		}
		s.dropIfIdle(c)
		return v, true
	}
	if c.PopSender(&w) {
		s.senderDone(w)
		return w.Offered(), true
	}
	return nil, false
}

// give hands a value from a sender that does not wait in the queue (a
// remote tasklet, or a TrySend) to a waiting receiver, or the buffer.
func (s *Scheduler) give(c *channel.Channel, v any) bool {
	var w channel.Waiter
	if c.PopReceiver(&w) {
		s.receiverGets(w, v, nil)
		return true
	}
	if !c.BufFull() {
		c.BufPush(v)
		return true
	}
	return false
}

// senderDone completes a popped sender whose value was taken.
func (s *Scheduler) senderDone(w channel.Waiter) {
	switch {
	case w.T != nil:
		s.wakeWaiter(recOf(w.T), w.Case)
		s.runq.pushBack(recOf(w.T))
	case w.Remote() != nil:
		s.remoteFired(w, nil, nil)
	}
}

// receiverGets completes a popped receiver with v or err; a local one wakes
// at the back of the run queue.
func (s *Scheduler) receiverGets(w channel.Waiter, v any, err error) {
	if w.T == nil {
		s.remoteFired(w, v, err)
		return
	}
	if err != nil {
		recOf(w.T).Deliver(nil, err)
	} else {
		deliver(recOf(w.T), v)
	}
	s.wakeWaiter(recOf(w.T), w.Case)
	s.runq.pushBack(recOf(w.T))
}

// remoteFired ends the remote wait of a popped waiter: its other cases here
// are forgotten and the outcome goes to the tasklet's node.
func (s *Scheduler) remoteFired(w channel.Waiter, v any, err error) {
	r := w.Remote()
	if r == nil {
		return
	}
	key := RemoteWait{Node: r.Node, Tasklet: r.Tasklet, Seq: r.Seq}
	s.endRemote(key, int(w.Case))
	s.remoteDone(key, int(w.Case), v, err)
}

// endRemote marks a remote wait over and forgets its queue entries, except
// the one of case fired, which was popped.
func (s *Scheduler) endRemote(key RemoteWait, fired int) bool {
	g := s.rwaits[key]
	if g == nil {
		return false
	}
	g.done = true
	delete(s.rwaits, key)
	for _, ref := range g.refs {
		if int(ref.idx) == fired {
			continue
		}
		if c := s.chans.get(uint64(ref.ch)); c != nil {
			if ref.send {
				c.ForgetSender()
			} else {
				c.ForgetReceiver()
			}
			s.touchChan(c)
		}
	}
	return true
}

func (s *Scheduler) remoteDone(w RemoteWait, idx int, v any, err error) {
	if s.remote == nil {
		s.report(fmt.Errorf("scheduler: the wait of remote tasklet %v (node %d) completed but no remote link is configured", w.Tasklet, w.Node))
		return
	}
	s.remote.Done(w, idx, v, err)
}

// CancelRemote withdraws a remote wait (its tasklet was killed, or another
// of its cases fired elsewhere). It reports false if the wait had already
// completed here, in which case Remote.Done was or will be called for it.
func (s *Scheduler) CancelRemote(w RemoteWait) bool { return s.endRemote(w, -2) }

// Emigration is a tasklet leaving this node: its state, and its pending
// timers as time left.
type Emigration struct {
	Tasklet TaskletState
	Timers  []TimerState // At is the time left, not a deadline
}

// Emigrate takes a suspended tasklet out of this scheduler to move it to
// node `to`. A tasklet blocked on channels of this node keeps its place in
// their queues: its entries become remote waiters for node `to`. Encode the
// returned state (its behavior is live) before the scheduler steps again.
func (s *Scheduler) Emigrate(id tasklet.ID, to uint16) (*Emigration, error) {
	t, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if t == s.current {
		return nil, fmt.Errorf("scheduler: emigrate %v: %w", id, ErrCurrent)
	}
	if s.fx != nil && s.fx.busy(t) {
		return nil, fmt.Errorf("scheduler: emigrate %v: %w; it can move once the effect's result arrived", id, ErrEffectInFlight)
	}
	em := &Emigration{Tasklet: taskletStateOf(t, nil)}
	now := s.clock.Now()
	s.timers.each(func(tm *timer) {
		if tm.t == t && tm.live() {
			em.Timers = append(em.Timers, TimerState{At: max(tm.at-now, 0), Seq: tm.seq, Tasklet: id, Case: int(tm.idx)})
		}
	})
	switch t.State() {
	case tasklet.Runnable:
		s.dequeue(t) // also from a Tick's already-stepped list, or it would step here too
	case tasklet.Paused:
		s.paused--
	case tasklet.Blocked:
		key := RemoteWait{Node: to, Tasklet: id, Seq: t.WaitSeq()}
		g := &remoteGroup{}
		for i, cs := range t.Cases() {
			c := s.chans.get(uint64(cs.Chan))
			if c == nil || (cs.Dir != tasklet.DirRecv && cs.Dir != tasklet.DirSend) {
				continue
			}
			idx := i
			if t.Plain() {
				idx = -1
			}
			seq := t.WaitSeq()
			swap := func(w channel.Waiter) (channel.Waiter, bool) {
				if w.T != t.T() || w.Seq != seq || int(w.Case) != idx {
					return w, false
				}
				r := &channel.Remote{Node: to, Tasklet: id, Seq: seq, Value: w.Value, Done: &g.done}
				return channel.Waiter{Case: w.Case, Value: r}, true
			}
			if c.Replace(swap) {
				g.refs = append(g.refs, remoteRef{ch: cs.Chan, send: cs.Dir == tasklet.DirSend, idx: int32(idx)})
				s.touchChan(c)
			}
		}
		if len(g.refs) > 0 {
			s.rwait(key, g)
		}
	}
	t.NextWait() // stale any timer left here; the tasklet's seq travels in em
	s.tasks.del(uint64(id))
	if s.track {
		s.deadT = append(s.deadT, id)
	}
	return em, nil
}

// Immigrate adopts a tasklet that left node `from`. Its remote waiters in
// this node's channel queues become local entries again, in place; its
// timers restart with the time they had left.
func (s *Scheduler) Immigrate(em *Emigration, from uint16) error {
	ts := &em.Tasklet
	if s.tasks.get(uint64(ts.ID)) != nil {
		return fmt.Errorf("scheduler: immigrate %v: a tasklet with that ID is here already", ts.ID)
	}
	if ts.Behavior == nil || !ts.State.Alive() {
		return fmt.Errorf("scheduler: immigrate %v: %w: no behavior or state %v", ts.ID, ErrInvalidRestore, ts.State)
	}
	t := s.record(ts)
	s.tasks.put(uint64(ts.ID), t)
	s.touch(t)
	switch ts.State {
	case tasklet.Runnable, tasklet.New:
		t.SetState(tasklet.Runnable)
		s.runq.pushBack(t)
	case tasklet.Paused:
		s.paused++
	case tasklet.Blocked:
		key := RemoteWait{Node: from, Tasklet: ts.ID, Seq: ts.Wait}
		if s.rwaits[key] != nil {
			for i, cs := range ts.Cases {
				c := s.chans.get(uint64(cs.Chan))
				if c == nil {
					continue
				}
				idx := i
				if ts.Plain {
					idx = -1
				}
				swap := func(w channel.Waiter) (channel.Waiter, bool) {
					r := w.Remote()
					if r == nil || r.Node != from || r.Tasklet != ts.ID || r.Seq != ts.Wait || int(w.Case) != idx {
						return w, false
					}
					return channel.Waiter{T: t.T(), Seq: ts.Wait, Case: w.Case, Value: r.Value}, true
				}
				if c.Replace(swap) {
					s.touchChan(c)
				}
			}
			delete(s.rwaits, key)
		}
	}
	now := s.clock.Now()
	for _, tm := range em.Timers {
		s.timerSeq++
		s.timers.push(timer{at: deadline(now, tm.At), seq: s.timerSeq, t: t, wait: t.WaitSeq(), idx: int32(tm.Case)})
	}
	return nil
}

// SetFlush registers fn, called on the scheduler's goroutine at the end of
// every slice of a run: after each burst of steps, before the scheduler
// waits for input (or ends for want of work), and when Run, RunBudget or
// Tick return. It lets a Remote hold back what the steps of one slice send
// to another node and send it in one write, instead of waking its writer
// for every operation (package ipc does). Outside a run (InRun false)
// nothing calls fn, so what is sent then must go at once.
func (s *Scheduler) SetFlush(fn func()) { s.flushFn = fn }

// InRun reports whether a Run, RunBudget or Tick is under way: one that
// will call SetFlush's function before it returns. Call it on the
// scheduler's goroutine (from a Remote's methods, say).
func (s *Scheduler) InRun() bool { return s.running > 0 }

func (s *Scheduler) flushRemote() {
	if s.flushFn != nil {
		s.flushFn()
	}
}

// Put hands v, sent on channel ch by a tasklet of another node that did
// not wait for the outcome (package ipc sends on credit), to a waiting
// receiver or into the buffer and reports true. With neither free it
// queues v as a sender without a tasklet, as Post does, and reports
// false. A closed channel still takes v: its sender's send completed
// before the close was known on its node, so it is ordered before the
// close, and receivers drain it as any value buffered before a close
// (dropping it would lose a value whose sender saw success). A channel
// this node does not hold refuses v: channel.ErrClosed once it was closed
// and drained, else ErrNoChannel (ErrRemoteChannel for another node's).
func (s *Scheduler) Put(ch channel.ID, v any) (bool, error) {
	c, err := s.chanFor(ch)
	if err != nil {
		return false, err
	}
	s.touchChan(c)
	return s.put(c, v), nil
}

// PutAll does what Put does for each of vals, in order, with one look-up
// of the channel. It reports how many of the first `counted` values were
// taken (by a receiver or the buffer) and left room in the buffer with no
// sender waiting: package ipc gives that much credit back.
func (s *Scheduler) PutAll(ch channel.ID, vals []any, counted int) (int, error) {
	c, err := s.chanFor(ch)
	if err != nil {
		return 0, err
	}
	s.touchChan(c)
	room := 0
	for i := 0; i < len(vals); i++ {
		if !c.HasReceivers() {
			// What put does with no receiver waiting, for the rest of a
			// batch in one copy: into the buffer while it has room.
			n0 := c.Len()
			if k := c.BufPushAll(vals[i:]); k > 0 {
				if !c.HasSenders() { // the values before counted that left room
					room += max(0, min(k, counted-i, c.Cap()-n0-1))
				}
				i += k - 1
				continue
			}
		}
		if s.put(c, vals[i]) && i < counted && c.Len() < c.Cap() && !c.HasSenders() {
			room++
		}
	}
	return room, nil
}

func (s *Scheduler) put(c *channel.Channel, v any) bool {
	var w channel.Waiter
	if c.PopReceiver(&w) {
		s.receiverGets(w, v, nil)
		return true
	}
	if !c.BufFull() {
		c.BufPush(v)
		return true
	}
	c.PushSender(channel.Waiter{Value: v, Case: -1})
	return false
}
