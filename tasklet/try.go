package tasklet

import "errors"

// Poller is the part of a [Host] that runs channel operations inside a step
// without ending it: they never block and never switch. Package scheduler
// implements it.
type Poller interface {
	TrySend(ch ChanID, v any) (sent bool, err error)
	TryRecv(ch ChanID) (v any, ok bool, err error)
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
