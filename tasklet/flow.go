package tasklet

import (
	"errors"
	"fmt"
	"time"
)

// Flow is the step context of a straight-line tasklet: a function
//
//	//stackless:tasklet kind=NAME version=N
//	func Guard(t *tasklet.Flow, eyes channel.ID) error
//
// calls t.Recv, t.Send and the other blocking methods where a hand-written
// [Behavior] would return an [Op] and resume in its next Step. The function
// runs in one of two modes, with the same results:
//
//   - lowered: `stackless gen` rewrites it into a Behavior whose Step drives
//     this Flow; each blocking call is a suspension point and the live locals
//     are exported fields, so the tasklet saves, migrates and upgrades like a
//     hand-written one. The blocking methods are never called at run time in
//     this mode (the generated code stands in for them) and report
//     [ErrNotLowered] if they are.
//   - unlowered: [Goroutine] runs the function on a goroutine of its own, one
//     step at a time under the scheduler: slow and not serializable, but it
//     needs no generator and a debugger can step through it.
//
// A blocking call returns the error its suspension delivered: [ErrKilled] for
// a kill, the error thrown into the tasklet, channel.ErrClosed, or an error
// sent with SendErr. A call whose error result the code drops (assigns to _
// or does not assign at all) keeps the rule of hand-written steps: a
// delivered error nobody reads ends the tasklet, at its next suspension
// point, as an uncaught exception would.
//
// A Flow is valid only inside the function it was passed to; do not keep it.
type Flow struct {
	t *T
	g *goState // nil when lowered
}

// ErrNotLowered is returned by a blocking method of a Flow that a generated
// Behavior drives: the generated code should have replaced the call.
var ErrNotLowered = errors.New("tasklet: blocking Flow call in lowered code; regenerate with `stackless gen` (or run the function with tasklet.Goroutine)")

// Lowered returns the Flow a generated Step hands to the code it lowered.
// Generated code calls it; people do not need to.
func Lowered(t *T) Flow { return Flow{t: t} }

// Recv waits for a value on ch.
func (f *Flow) Recv(ch ChanID) (any, error) {
	if f.g == nil {
		return nil, ErrNotLowered
	}
	f.g.suspend(f, f.t.Recv(ch))
	return f.t.Value(), f.g.err(f)
}

// RecvAs waits for a value of type V on ch. A value of another type is an
// error that names both types (the value is not lost to the channel: it was
// received, and the error carries it in its text only).
func RecvAs[V any](f *Flow, ch ChanID) (V, error) {
	v, err := f.Recv(ch)
	return As[V](v, err)
}

// As converts what a Recv or a Select delivered into V: nil with err
// unchanged when err is not nil, the value when it has type V, else an error
// naming both types. Generated code uses it for RecvAs.
func As[V any](v any, err error) (V, error) {
	var zero V
	if err != nil {
		return zero, err
	}
	x, ok := v.(V)
	if !ok {
		return zero, fmt.Errorf("tasklet: received %T (%v), want %T", v, v, zero)
	}
	return x, nil
}

// Do runs the effect registered as name (scheduler.RegisterEffect) with
// request req on the scheduler's pool and waits for its response, or its
// error. Convert the response with [As]: v, err := t.Do("fetch", url);
// page, err := tasklet.As[string](v, err).
func (f *Flow) Do(name string, req any) (any, error) {
	if f.g == nil {
		return nil, ErrNotLowered
	}
	f.g.suspend(f, f.t.Do(name, req))
	return f.t.Value(), f.g.err(f)
}

// Finish is the Op that ends a lowered tasklet whose function returned
// err: Exit for nil, Fail otherwise. Generated code calls it.
func Finish(t *T, err error) Op {
	if err != nil {
		return t.Fail(err)
	}
	return t.Exit()
}

// Send hands v to a receiver of ch (or its buffer), waiting if needed.
func (f *Flow) Send(ch ChanID, v any) error {
	if f.g == nil {
		return ErrNotLowered
	}
	f.g.suspend(f, f.t.Send(ch, v))
	return f.g.err(f)
}

// SendErr sends err on ch: the receiver's blocking call returns it.
func (f *Flow) SendErr(ch ChanID, err error) error {
	if f.g == nil {
		return ErrNotLowered
	}
	f.g.suspend(f, f.t.SendErr(ch, err))
	return f.g.err(f)
}

// Select waits for the first ready case (the first ready one in order wins)
// and returns its index and, for a receive, the value.
func (f *Flow) Select(cases ...Case) (chosen int, v any, err error) {
	if f.g == nil {
		return -1, nil, ErrNotLowered
	}
	f.g.suspend(f, f.t.Select(cases...))
	return f.t.Chosen(), f.t.Value(), f.g.err(f)
}

// Sleep waits d on the scheduler's clock.
func (f *Flow) Sleep(d time.Duration) error {
	if f.g == nil {
		return ErrNotLowered
	}
	f.g.suspend(f, f.t.Sleep(d))
	return f.g.err(f)
}

// Yield lets the other runnable tasklets run first.
func (f *Flow) Yield() error {
	if f.g == nil {
		return ErrNotLowered
	}
	f.g.suspend(f, f.t.Yield())
	return f.g.err(f)
}

// Pause leaves the run queue until another tasklet or the host inserts the
// tasklet again.
func (f *Flow) Pause() error {
	if f.g == nil {
		return ErrNotLowered
	}
	f.g.suspend(f, f.t.Pause())
	return f.g.err(f)
}

// TrySend is [T.TrySend]: it never blocks and is no suspension point.
func (f *Flow) TrySend(ch ChanID, v any) (sent bool, err error) { return f.t.TrySend(ch, v) }

// TryRecv is [T.TryRecv]: it never blocks and is no suspension point.
func (f *Flow) TryRecv(ch ChanID) (v any, ok bool, err error) { return f.t.TryRecv(ch) }

// TryRecvMany is [T.TryRecvMany]: it never blocks and is no suspension point.
func (f *Flow) TryRecvMany(ch ChanID, dst []any) (n int, err error) { return f.t.TryRecvMany(ch, dst) }

// ID returns the tasklet's ID.
func (f *Flow) ID() ID { return f.t.ID() }

// Steps is how many steps the tasklet has run, counting this one.
func (f *Flow) Steps() uint64 { return f.t.Steps() }

// Spawn starts a new tasklet at the back of the run queue (at the front on
// a scheduler made with scheduler.WithDepthFirst).
func (f *Flow) Spawn(b Behavior) ID { return f.t.Spawn(b) }

// NewChannel makes a channel; capacity 0 is a rendezvous channel.
func (f *Flow) NewChannel(capacity int) ChanID { return f.t.NewChannel(capacity) }

// Close closes ch: every tasklet blocked on it wakes with channel.ErrClosed.
func (f *Flow) Close(ch ChanID) error { return f.t.Close(ch) }

// Now is the scheduler's clock.
func (f *Flow) Now() time.Duration { return f.t.Now() }

// Atomic reports whether the watchdog may not interrupt the tasklet.
func (f *Flow) Atomic() bool { return f.t.Atomic() }

// SetAtomic makes the tasklet immune to watchdog interruption (or not) and
// returns the old setting.
func (f *Flow) SetAtomic(on bool) bool { return f.t.SetAtomic(on) }

// BlockTrap reports whether blocking calls fail with ErrBlockTrap.
func (f *Flow) BlockTrap() bool { return f.t.BlockTrap() }

// SetBlockTrap makes blocking calls fail with ErrBlockTrap instead of
// waiting, and returns the old setting.
func (f *Flow) SetBlockTrap(on bool) bool { return f.t.SetBlockTrap(on) }

// Host gives access to the rest of the scheduler: kill, throw, insert, balance.
func (f *Flow) Host() Host { return f.t.Host() }
