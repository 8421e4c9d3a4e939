package tasklet

import "errors"

// Poller is the part of a [Host] that runs channel operations inside a step
// without ending it: they never block and never switch. Package scheduler
// implements it.
type Poller interface {
	TrySend(ch ChanID, v any) (sent bool, err error)
	TryRecv(ch ChanID) (v any, ok bool, err error)
	TryRecvMany(ch ChanID, dst []any) (n int, err error)
}

// ErrNoPoll is returned by TrySend and TryRecv when the host running the
// tasklet does not implement [Poller].
var ErrNoPoll = errors.New("tasklet: the host cannot run channel operations inside a step (it is no tasklet.Poller)")

// TrySend hands v to a waiting receiver of ch or puts it in ch's buffer, at
// once and without ending the step; it reports false when neither was
// possible (nobody waits and the buffer is full, or ch is a rendezvous
// channel without a receiver). A woken receiver runs later; the caller
// keeps running. err is channel.ErrClosed for a closed channel.
//
// Use it where one step must talk to many channels (a world tasklet sending
// events to thousands of entities per game tick), or must not wait on a
// full inbox. A step that should wait uses Send instead.
func (t *T) TrySend(ch ChanID, v any) (sent bool, err error) {
	p, ok := t.rec().Host().(Poller)
	if !ok {
		return false, ErrNoPoll
	}
	return p.TrySend(ch, v)
}

// TryRecv takes a value from ch's buffer or from a waiting sender, at once
// and without ending the step; ok is false when none is there. An error sent
// with SendErr comes back as err with ok true; err is channel.ErrClosed (ok
// false) once ch is closed and drained.
//
// A loop of TryRecv drains an inbox in one step: an entity reads every
// message that arrived since its last game tick.
func (t *T) TryRecv(ch ChanID) (v any, ok bool, err error) {
	p, isPoller := t.rec().Host().(Poller)
	if !isPoller {
		return nil, false, ErrNoPoll
	}
	return p.TryRecv(ch)
}

// TryRecvMany moves the values ch holds now into dst, oldest first, as many
// as fit, and returns how many, without ending the step: the buffered
// values, then those of tasklets waiting to send (each wakes at the back of
// the run queue, in the order they blocked). It takes what len(dst) TryRecv
// calls would, in the same order, at the cost of one. n is 0 when nothing is
// there. An error sent with SendErr ends the batch: err is that error and
// dst[:n] the values sent before it (use them first, as with io.Reader); err
// is channel.ErrClosed (n 0) once ch is closed and drained.
//
// It is how a server drains its inbox: many tasklets send on one buffered
// channel with preference 1 (a sender goes on instead of switching to the
// receiver), and the server takes every value that arrived in one step,
// then waits with Recv when the inbox is empty (batch is a []any field
// tagged `stackless:"-"`: scratch of one step, not saved):
//
//	if v, ok := t.Value().(Request); ok { s.handle(v) } // what Recv delivered
//	for {
//		n, err := t.TryRecvMany(s.Inbox, s.batch[:])
//		for _, v := range s.batch[:n] { s.handle(v.(Request)) }
//		if err != nil || n < len(s.batch) { break }
//	}
//	return t.Recv(s.Inbox)
func (t *T) TryRecvMany(ch ChanID, dst []any) (n int, err error) {
	p, isPoller := t.rec().Host().(Poller)
	if !isPoller {
		return 0, ErrNoPoll
	}
	return p.TryRecvMany(ch, dst)
}
