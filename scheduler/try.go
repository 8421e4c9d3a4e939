package scheduler

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// This file implements tasklet.Poller: channel operations that complete
// inside a step (t.TrySend, t.TryRecv) or between steps, never blocking and
// never switching. Tick gives a tasklet one step per round and a step ends
// in one Op, so without them a tasklet can move one value per game tick; a
// world tasklet that sends perception events to thousands of entities, or
// an entity that drains its inbox, needs many.
//
// Remote waiters are not handled here yet: this file is written against
// queues that hold only local tasklets and posted values. When waiters of
// other nodes join the queues (channel.Remote), tryGive must complete a
// popped receiver the way sendReady does (a waiter without a tasklet is
// remote) and tryTake must take w.Offered() and finish the sender the way
// recvReady does.

var _ tasklet.Poller = (*Scheduler)(nil)

// TrySend hands v to the first tasklet waiting to receive on ch, or puts it
// in ch's buffer, and reports whether it did. The woken receiver goes to the
// back of the run queue (in a Tick, it runs in this round if it has not
// stepped yet); the caller keeps running whatever the channel's preference.
// A closed channel gives channel.ErrClosed, a value the scheduler's value
// check refuses (WithValueCheck) the check's error.
func (s *Scheduler) TrySend(id channel.ID, v any) (bool, error) {
	if s.checkValue != nil {
		if err := s.refuseValue(s.Current(), id, v); err != nil {
			return false, err
		}
	}
	c := s.ch(id)
	if c == nil {
		_, err := s.chanFor(id)
		return false, err
	}
	s.hookTry(c, true)
	if c.Closed() {
		return false, channel.ErrClosed
	}
	s.touchChan(c)
	return s.give(c, v), nil
}

// TryRecv takes the oldest buffered value of ch, or the value of the first
// tasklet waiting to send (which is woken at the back of the run queue). ok
// is false when there is none; an error sent with SendErr comes back as err
// with ok true; a closed, drained channel gives channel.ErrClosed.
func (s *Scheduler) TryRecv(id channel.ID) (v any, ok bool, err error) {
	c := s.ch(id)
	if c == nil {
		_, err := s.chanFor(id)
		return nil, false, err
	}
	s.hookTry(c, false)
	s.touchChan(c)
	if v, ok = s.take(c); ok {
		if b, isBomb := v.(channel.Bomb); isBomb {
			return nil, true, b.Err
		}
		return v, true, nil
	}
	if c.Closed() {
		return nil, false, channel.ErrClosed
	}
	return nil, false, nil
}

func (s *Scheduler) hookTry(c *channel.Channel, sending bool) {
	if s.onChannel == nil {
		return
	}
	var id tasklet.ID
	if s.current != nil {
		id = s.current.ID()
	}
	s.onChannel(ChannelEvent{Chan: c.ID(), Tasklet: id, Sending: sending})
}

// TryRecvMany moves the values ch holds now into dst, oldest first: the
// buffered ones, then those of tasklets waiting to send, as many as fit.
// Each sender whose value it takes wakes at the back of the run queue, in
// the order they blocked, and a sender's value goes into the buffer as one
// leaves it, exactly as that many TryRecv calls would. An error sent with
// SendErr ends the batch: it comes back as err, after the n values before
// it. A closed, drained channel gives 0 and channel.ErrClosed.
func (s *Scheduler) TryRecvMany(id channel.ID, dst []any) (n int, err error) {
	c := s.ch(id)
	if c == nil {
		_, err := s.chanFor(id)
		return 0, err
	}
	s.hookTry(c, false)
	s.touchChan(c)
	if c.Cap() != 0 && s.plainSends() {
		s.fillCh, s.fillID = c, id
	}
	woke, others := s.woke, s.wokeOthers
	s.woke, s.wokeOthers = nil, nil // a remote sender's completion may come back here
	n, woke, others = c.Drain(dst, woke[:0], others[:0])
	s.wakeSenders(woke, others)
	clear(woke)
	clear(others)
	s.woke, s.wokeOthers = woke[:0], others[:0]
	if n > 0 {
		if b, isBomb := dst[n-1].(channel.Bomb); isBomb {
			dst[n-1] = nil
			s.dropIfIdle(c)
			return n - 1, b.Err
		}
	}
	s.dropIfIdle(c)
	if n == 0 && c.Closed() {
		return 0, channel.ErrClosed
	}
	return n, nil
}

// wakeSenders completes the senders a drain took values from, in order
// (as channel.Drain lists them: a plain local sender as itself, any other
// as nil, standing for the next of others). Plain local ones, one per value
// a drain takes from a blocked sender, are woken by hand without
// senderDone's calls, and when no other is among them, go onto the run
// queue in one copy.
func (s *Scheduler) wakeSenders(woke []*tasklet.T, others []channel.Waiter) {
	if len(others) != 0 {
		for _, t := range woke {
			if t == nil {
				s.senderDone(others[0])
				others = others[1:]
				continue
			}
			r := recOf(t)
			s.wakeSender(r)
			s.runq.pushBack(r)
		}
		return
	}
	for _, t := range woke { // wakeSender, by hand: the inliner will not
		r := recOf(t)
		r.NextWait()
		r.SetChosen(-1)
		r.SetState(tasklet.Runnable)
	}
	if s.track {
		for _, t := range woke {
			s.touch(recOf(t))
		}
	}
	s.runq.pushAll(recsOf(woke))
}

// wakeSender ends the wait of a local tasklet blocked in a plain Send whose
// value was taken.
func (s *Scheduler) wakeSender(r *rec) {
	r.NextWait()
	r.SetChosen(-1)
	r.SetState(tasklet.Runnable)
	s.touch(r)
}
