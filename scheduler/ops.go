package scheduler

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

func bomb(err error) channel.Bomb {
	if err == nil {
		err = fmt.Errorf("SendErr(nil)")
	}
	return channel.Bomb{Err: err}
}

// deliver hands a received value to t; a Bomb arrives as an error.
func deliver(t *rec, v any) {
	if _, ok := v.(channel.Bomb); ok {
		// (Not b, ok := v.(channel.Bomb): that made every rendezvous
		// build the zero Bomb, three instructions.)
		t.Deliver(nil, v.(channel.Bomb).Err)
		return
	}
	t.c().DeliverValue(v)
}

// chanFor finds a local channel. A missing channel of this node that once
// existed was closed and drained, so it reads as closed.
func (s *Scheduler) chanFor(id channel.ID) (*channel.Channel, error) {
	if c := s.chans.get(uint64(id)); c != nil {
		return c, nil
	}
	if id.Node() == s.node {
		if seq := uint64(id) & (1<<tasklet.NodeBits - 1); seq != 0 && seq <= s.nextC {
			return nil, channel.ErrClosed
		}
		return nil, fmt.Errorf("scheduler: channel %v: %w", id, ErrNoChannel)
	}
	return nil, fmt.Errorf("scheduler: channel %v on node %d: %w", id, id.Node(), ErrRemoteChannel)
}

func (s *Scheduler) isRemote(id channel.ID) bool {
	return s.remote != nil && id.Node() != s.node
}

func (s *Scheduler) opRecv(t *rec, id channel.ID) bool {
	s.chanOps++
	c := s.lastCh // s.ch, by hand: the inliner will not
	if c == nil || c.ID() != id {
		c = s.ch(id)
	}
	if c == nil {
		if s.isRemote(id) {
			s.waitRemoteRecv(t, id)
			return false
		}
		_, err := s.chanFor(id)
		t.Deliver(nil, err)
		return true
	}
	if s.onChannel != nil {
		s.onChannel(ChannelEvent{Chan: id, Tasklet: t.ID(), WillBlock: c.Len() == 0 && !c.HasSenders() && !c.Closed()})
	}
	// A receiver that will block (every other one, in a ping-pong) skips
	// recvReady: nothing buffered, no sender, not closed.
	if c.Len() != 0 || c.HasSenders() || c.Closed() {
		if done, cont := s.recvReady(t, c, -1); done {
			return cont
		}
	}
	if t.BlockTrap() {
		s.touchChan(c)
		t.Deliver(nil, tasklet.ErrBlockTrap)
		return true
	}
	s.waitRecv(t, c)
	return false
}

// waitRecv blocks t in a plain receive on c.
func (s *Scheduler) waitRecv(t *rec, c *channel.Channel) {
	s.touchChan(c)
	t.WaitOn(c, false)
	if seq := t.NextWait(); !c.WaitAlone(t.T(), seq) {
		c.PushReceiver(channel.Waiter{T: t.T(), Seq: seq, Case: -1})
	}
	t.SetState(tasklet.Blocked)
}

// handOff is the default rendezvous, sendReady by hand without its calls:
// r, the lone plain receiver TakeDirect took from c, takes v and runs at
// once; t waits its turn at the back of the run queue.
func (s *Scheduler) handOff(t *rec, c *channel.Channel, r *rec, v any) {
	s.touchChan(c)
	t.SetChosen(-1)
	deliver(r, v)
	s.runReceiver(t, r)
}

// runReceiver is wakeWaiter and place for a plain receiver r that took a
// value from t, by hand: r runs at once, t waits its turn at the back of
// the run queue. (burst writes it out once more: a call there is a
// tenth of a ping-pong value.)
func (s *Scheduler) runReceiver(t, r *rec) {
	r.NextWait()
	r.SetChosen(-1)
	r.SetState(tasklet.Runnable)
	s.touch(r)
	s.next = r
	s.runq.pushBehind(t)
}

func (s *Scheduler) opSend(t *rec, id channel.ID, v any) bool {
	s.chanOps++
	if s.checkValue != nil && s.refuseSend(t, id, v) {
		return true
	}
	c := s.lastCh // s.ch, by hand: the inliner will not
	if c == nil || c.ID() != id {
		// A stream to another node's channel asks for it once: the
		// lookup that finds nothing was a tenth of a remote send's cost.
		c = nil
		if id != s.noCh || id == 0 {
			if c = s.ch(id); c == nil {
				s.noCh = id
			}
		}
	}
	if c == nil {
		if s.isRemote(id) {
			if s.sendNow != nil && s.sendNow.SendNow(t.ID(), id, v) {
				t.SetChosen(-1)
				return true
			}
			s.waitRemoteSend(t, id, v)
			return false
		}
		_, err := s.chanFor(id)
		t.Deliver(nil, err)
		return true
	}
	if s.onChannel != nil {
		s.onChannel(ChannelEvent{Chan: id, Tasklet: t.ID(), Sending: true, WillBlock: !c.HasReceivers() && c.BufFull() && !c.Closed()})
	}
	if rt := c.TakeDirect(); rt != nil {
		s.handOff(t, c, recOf(rt), v)
		return false
	}
	return s.sendOn(t, c, v)
}

// sendOn is opSend on a channel of this node once no lone plain receiver
// takes v at once (TakeDirect found none).
func (s *Scheduler) sendOn(t *rec, c *channel.Channel, v any) bool {
	c.NoteBomb(v)           // for SendQuick and sendWaits' WaitToSend
	switch c.SendQuick(v) { // sendReady's buffered and blocking cases, without its calls
	case channel.SendBuffered:
		s.touchChan(c)
		t.SetChosen(-1)
		return true
	case channel.SendBlocks:
		s.touchChan(c)
	default:
		if done, cont := s.sendReady(t, c, v, -1); done {
			return cont
		}
	}
	return s.sendWaits(t, c, v)
}

// recvReady completes a receive that needs no waiting. done reports whether
// it did; cont whether t keeps running.
func (s *Scheduler) recvReady(t *rec, c *channel.Channel, idx int) (done, cont bool) {
	s.touchChan(c)
	var w channel.Waiter
	if v, ok := c.BufPop(); ok {
		deliver(t, v)
		t.SetChosen(idx)
		if c.PopSender(&w) {
			c.BufPush(w.Offered())
			s.senderDone(w)
		}
		s.dropIfIdle(c)
		return true, true
	}
	if c.PopSender(&w) {
		deliver(t, w.Offered())
		t.SetChosen(idx)
		if w.T == nil { // a posted value, or a remote sender
			s.senderDone(w)
			return true, true
		}
		s.wakeWaiter(recOf(w.T), w.Case)
		return true, s.place(c, t, recOf(w.T), false)
	}
	if c.Closed() {
		t.Deliver(nil, channel.ErrClosed)
		t.SetChosen(idx)
		return true, true
	}
	return false, false
}

func (s *Scheduler) sendReady(t *rec, c *channel.Channel, v any, idx int) (done, cont bool) {
	s.touchChan(c)
	if c.Closed() {
		t.Deliver(nil, channel.ErrClosed)
		t.SetChosen(idx)
		return true, true
	}
	var w channel.Waiter
	if c.PopReceiver(&w) {
		t.SetChosen(idx)
		if w.T == nil { // a remote receiver
			s.remoteFired(w, v, nil)
			return true, true
		}
		r := recOf(w.T)
		deliver(r, v)
		if w.Case >= 0 || c.ScheduleAll() || c.Preference() != channel.PreferReceiver {
			s.wakeWaiter(r, w.Case)
			return true, s.place(c, t, r, true)
		}
		s.runReceiver(t, r) // a plain receiver, run at once (the default)
		return true, false
	}
	if !c.BufFull() {
		c.BufPush(v)
		t.SetChosen(idx)
		return true, true
	}
	return false, false
}

// place queues the partner of a rendezvous by the channel's preference and
// reports whether the caller keeps running (Stackless channelobject.c).
func (s *Scheduler) place(c *channel.Channel, caller, partner *rec, callerSends bool) bool {
	if c.ScheduleAll() {
		s.runq.pushBack(partner)
		s.runq.pushBack(caller)
		return false
	}
	pref := c.Preference()
	if (pref == channel.PreferReceiver && callerSends) || (pref == channel.PreferSender && !callerSends) {
		// The partner runs at once: exec switches to it directly instead of
		// putting it at the front of the run queue and taking it back off.
		s.next = partner
		s.runq.pushBehind(caller)
		return false
	}
	if s.depthFirst {
		s.runq.pushFront(partner)
	} else {
		s.runq.pushBack(partner)
	}
	return true
}

// wakeWaiter ends the wait of a popped waiter's tasklet t, whose select
// case cs (-1: a plain op) fired: its other cases are forgotten, and it
// becomes runnable (the caller queues it).
func (s *Scheduler) wakeWaiter(t *rec, cs int32) {
	if cs < 0 {
		t.NextWait() // a plain op: its only queue entry was the one popped
	} else {
		s.endWait(t, int(cs))
	}
	t.SetChosen(int(cs))
	t.SetState(tasklet.Runnable)
	s.touch(t)
}

// cancelled is the fired index of a wait that ended with nothing completed
// (a kill, a throw): every queue entry of the wait must be forgotten.
const cancelled = -2

// endWait ends t's current wait. fired is the select case that completed,
// whose queue entry is already gone; -1 is a plain Send or Recv that
// completed; cancelled means none did. The other entries leave the balance
// now and their queues lazily.
func (s *Scheduler) endWait(t *rec, fired int) {
	if t.State() == tasklet.Blocked && fired != -1 {
		remote, do := false, false
		var one [1]tasklet.Case
		for i, cs := range t.casesIn(&one) {
			if i == fired || (cs.Dir != tasklet.DirRecv && cs.Dir != tasklet.DirSend) {
				do = do || cs.Dir == tasklet.DirDo && i != fired
				continue
			}
			c := s.chans.get(uint64(cs.Chan))
			switch {
			case c == nil:
				remote = remote || s.isRemote(cs.Chan)
			case cs.Dir == tasklet.DirRecv:
				c.ForgetReceiver()
				s.touchChan(c)
			default:
				c.ForgetSender()
				s.touchChan(c)
			}
		}
		if remote {
			s.remote.Cancel(t.ID(), t.WaitSeq(), t.Cases())
		}
		if do && s.fx != nil {
			s.fx.cancelWait(t, fired)
		}
	}
	if fired != -1 {
		t.c().LeftEntries() // queue entries and timers that go lazily
	}
	t.NextWait()
}

func (s *Scheduler) opSelect(t *rec) bool {
	s.chanOps++
	cases := t.SelectCases()
	t.WaitSelect()
	if s.checkValue != nil && s.refuseCases(t, cases) {
		return true
	}
	deflt, timeout := -1, -1
	remote, do := false, false
	for i := range cases {
		cs := &cases[i]
		switch cs.Dir {
		case tasklet.DirRecv, tasklet.DirSend:
			c := s.chans.get(uint64(cs.Chan))
			if c == nil {
				if s.isRemote(cs.Chan) {
					remote = true
					continue
				}
				_, err := s.chanFor(cs.Chan)
				t.Deliver(nil, err)
				t.SetChosen(i)
				return true
			}
			if s.onChannel != nil {
				s.onChannel(ChannelEvent{Chan: cs.Chan, Tasklet: t.ID(), Sending: cs.Dir == tasklet.DirSend})
			}
			var done, cont bool
			if cs.Dir == tasklet.DirRecv {
				done, cont = s.recvReady(t, c, i)
			} else {
				done, cont = s.sendReady(t, c, cs.Value, i)
			}
			if done {
				return cont
			}
		case tasklet.DirDo:
			if err := s.checkEffect(t, cs); err != nil {
				t.Deliver(nil, err)
				t.SetChosen(i)
				return true
			}
			do = true
		case tasklet.DirDefault:
			if deflt < 0 {
				deflt = i
			}
		case tasklet.DirTimeout:
			if timeout < 0 || cs.Timeout < cases[timeout].Timeout {
				timeout = i
			}
		default:
			// Ignored, it would leave a wait that no save could load.
			t.Deliver(nil, fmt.Errorf("scheduler: tasklet %v: select case %d has direction %d: %w (make cases with tasklet.RecvCase, SendCase, TimeoutCase, DefaultCase or DoCase)", t.ID(), i, cs.Dir, ErrBadCase))
			t.SetChosen(i)
			return true
		}
	}
	if deflt >= 0 {
		t.SetChosen(deflt)
		return true
	}
	if timeout >= 0 && cases[timeout].Timeout <= 0 { // due at once: like a default
		t.SetChosen(timeout)
		return true
	}
	if t.BlockTrap() {
		t.Deliver(nil, tasklet.ErrBlockTrap)
		t.SetChosen(-1)
		return true
	}
	seq := t.NextWait()
	for i, cs := range cases {
		if cs.Dir != tasklet.DirRecv && cs.Dir != tasklet.DirSend {
			continue
		}
		c := s.chans.get(uint64(cs.Chan))
		if c == nil {
			continue
		}
		w := channel.Waiter{T: t.T(), Seq: seq, Case: int32(i), Value: cs.Value}
		if cs.Dir == tasklet.DirRecv {
			c.PushReceiver(w)
		} else {
			c.PushSender(w)
		}
	}
	if timeout >= 0 {
		s.addTimer(t, deadline(s.clock.Now(), cases[timeout].Timeout), timeout)
	}
	t.SetState(tasklet.Blocked)
	if remote {
		s.remote.Op(t.ID(), seq, cases)
	}
	if do {
		s.fx.issue(t, seq, cases)
	}
	return false
}

// Complete finishes a remote wait: the case idx (-1 for a plain op) of
// tasklet id's wait seq completed with value v or error err. Stale answers
// (the tasklet moved on) are ignored and reported false.
func (s *Scheduler) Complete(id tasklet.ID, seq uint32, idx int, v any, err error) bool {
	t := s.tasks.get(uint64(id))
	if t == nil || t.State() != tasklet.Blocked || t.WaitSeq() != seq {
		return false
	}
	s.endWait(t, idx)
	if err != nil {
		t.Deliver(nil, err)
	} else {
		deliver(t, v)
	}
	t.SetChosen(idx)
	t.SetState(tasklet.Runnable)
	s.touch(t)
	s.runq.pushBack(t)
	return true
}

// dropIfIdle forgets a closed channel once nothing observable is left in it.
func (s *Scheduler) dropIfIdle(c *channel.Channel) {
	if c.Closed() && c.Idle() {
		if s.lastCh == c {
			s.lastCh = nil
		}
		if s.fillCh == c {
			s.forgetFill()
		}
		s.chans.del(uint64(c.ID()))
		if s.track {
			s.deadC = append(s.deadC, c.ID())
		}
	}
}
