package scheduler

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// A value sent on a channel becomes part of the world, and a world is only
// saved if every value in it can be encoded. Without a check at the send, a
// value of a type nobody registered went unnoticed until a checkpoint
// happened to find it in a buffer, long after the code that sent it ran. A
// scheduler whose world is saved (store.Checkpointer.Resume) or sent to
// other nodes (ipc.NewNode) is given its registry's check
// (pickle.Registry.CheckValue), and a send of such a value fails at once:
// the sending step gets the error. Unset, the check costs a nil test.

// WithValueCheck makes every send (Send, SendErr, a select's send cases,
// TrySend, and the host's Scheduler.Send) first pass its value to fn; when
// fn returns an error the value is not sent and the sending step gets the
// error from t.Err() (TrySend and Scheduler.Send return it). Values posted
// from other goroutines (Post) are not checked.
func WithValueCheck(fn func(v any) error) Option { return func(s *Scheduler) { s.checkValue = fn } }

// SetValueCheck sets the check of WithValueCheck (nil: none).
func (s *Scheduler) SetValueCheck(fn func(v any) error) {
	s.checkValue = fn
	s.updatePlain()
	s.forgetFill()
}

// refuseValue reports whether the check refuses v; it wraps the check's
// error with the tasklet and channel.
func (s *Scheduler) refuseValue(t tasklet.ID, ch channel.ID, v any) error {
	if err := s.checkValue(v); err != nil {
		return refused(t, ch, err)
	}
	return nil
}

// refused wraps a check's error. Out of line: its frame (fmt.Errorf's
// arguments) cost every checked send a third of the check.
//
//go:noinline
func refused(t tasklet.ID, ch channel.ID, err error) error {
	return fmt.Errorf("scheduler: tasklet %v sends on channel %v: %w", t, ch, err)
}

// refuseSend delivers the check's error to t (a plain Send or SendErr) and
// reports whether it did.
func (s *Scheduler) refuseSend(t *rec, ch channel.ID, v any) bool {
	if err := s.checkValue(v); err != nil {
		t.Deliver(nil, refused(t.ID(), ch, err))
		return true
	}
	return false
}

// refuseCases checks the values of a select's send cases before any case
// runs; a refused one is the case that fired, with the error.
func (s *Scheduler) refuseCases(t *rec, cases []tasklet.Case) bool {
	for i := range cases {
		if cases[i].Dir != tasklet.DirSend {
			continue
		}
		if err := s.refuseValue(t.ID(), cases[i].Chan, cases[i].Value); err != nil {
			t.Deliver(nil, err)
			t.SetChosen(i)
			return true
		}
	}
	return false
}
