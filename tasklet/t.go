package tasklet

import (
	"time"

	"github.com/stackless-go/stackless/internal/core"
)

// T is a tasklet seen from its own behavior: the context every Step
// receives. Its methods are all a behavior needs: build the Op that ends the
// step (Yield, Recv, Send, Select, Sleep, Exit...), read what the last
// suspension delivered (Value, Err, Chosen), and ask the scheduler for
// tasklets and channels (Spawn, NewChannel, Close, Host).
//
// A T is the scheduler's record of the tasklet; the scheduler keeps the
// rest of the record through an internal package. A step must not keep the
// *T after it returns.
type T core.Rec[Behavior, Host, Case]

// record is T seen by this package: the methods of the record.
type record = core.Rec[Behavior, Host, Case]

func (t *T) rec() *record { return (*record)(t) }

// ID returns the tasklet's ID.
func (t *T) ID() ID { return ID(t.rec().ID()) }

// Value is what the suspension that just ended delivered: the value received
// by a Recv or a receive case of a Select.
func (t *T) Value() any { return t.rec().Value() }

// Err is the error delivered to this step: [ErrKilled], an error thrown into
// the tasklet, channel.ErrClosed, or an error sent with SendErr. Reading it
// marks it handled; an error nobody reads ends the tasklet.
func (t *T) Err() error { return t.rec().Err() }

// Chosen is the index of the select case that fired, or -1.
func (t *T) Chosen() int { return t.rec().Chosen() }

// Steps is how many steps the tasklet has run, counting this one.
func (t *T) Steps() uint64 { return t.rec().Steps() }

// Atomic reports whether the watchdog may not interrupt the tasklet.
func (t *T) Atomic() bool { return t.rec().HasFlag(core.FlagAtomic) }

// SetAtomic makes the tasklet immune to watchdog interruption (or not) and
// returns the old setting.
func (t *T) SetAtomic(on bool) bool { return t.rec().SetFlag(core.FlagAtomic, on) }

// BlockTrap reports whether blocking operations fail with ErrBlockTrap.
func (t *T) BlockTrap() bool { return t.rec().HasFlag(core.FlagBlockTrap) }

// SetBlockTrap makes operations that would block deliver ErrBlockTrap
// instead, and returns the old setting.
func (t *T) SetBlockTrap(on bool) bool { return t.rec().SetFlag(core.FlagBlockTrap, on) }

// Continue keeps the tasklet running without a switch until its timeslice
// ends (with no timeslice, at once).
func (t *T) Continue() Op { return Op{kind: OpContinue} }

// Yield puts the tasklet at the back of the run queue.
func (t *T) Yield() Op { return Op{kind: OpYield} }

// Recv waits for a value on ch; the next step reads it with Value.
func (t *T) Recv(ch ChanID) Op { return Op{kind: OpRecv, arg: uint64(ch)} }

// Send hands v to a receiver of ch (or its buffer), waiting if needed.
func (t *T) Send(ch ChanID, v any) Op { return Op{kind: OpSend, arg: uint64(ch), val: v} }

// SendErr sends err on ch: the receiving step sees it as t.Err().
func (t *T) SendErr(ch ChanID, err error) Op {
	return Op{kind: OpSendErr, arg: uint64(ch), val: err}
}

// Select waits for the first ready case; the next step reads which with
// Chosen and, for a receive, the value with Value. Ready cases are taken in
// order (the first ready one wins), which keeps runs deterministic.
func (t *T) Select(cases ...Case) Op {
	t.rec().SetSelect(cases)
	return Op{kind: OpSelect}
}

// Sleep waits d on the scheduler's clock.
func (t *T) Sleep(d time.Duration) Op { return Op{kind: OpSleep, arg: uint64(d)} }

// Pause leaves the run queue; another tasklet or the host must Insert it.
func (t *T) Pause() Op { return Op{kind: OpPause} }

// Exit finishes the tasklet.
func (t *T) Exit() Op { return Op{kind: OpExit} }

// Fail finishes the tasklet with err, reported to the scheduler's error
// handler (or Run's result).
func (t *T) Fail(err error) Op { return Op{kind: OpFail, val: err} }

// Spawn starts a new tasklet at the back of the run queue (at the front on
// a scheduler made with scheduler.WithDepthFirst).
func (t *T) Spawn(b Behavior) ID { return t.rec().Host().Spawn(b) }

// NewChannel makes a channel; capacity 0 is a rendezvous channel. It
// lives until it is closed and drained: close the ones made per request.
func (t *T) NewChannel(capacity int) ChanID { return t.rec().Host().NewChannel(capacity) }

// Close closes ch: every tasklet blocked on it wakes with channel.ErrClosed;
// buffered values can still be received. A channel of another node is
// closed at its home, behind what this node sent there first; Close then
// returns once the close is on its way.
func (t *T) Close(ch ChanID) error { return t.rec().Host().Close(ch) }

// Now is the scheduler's clock.
func (t *T) Now() time.Duration { return t.rec().Host().Now() }

// Host gives access to the rest of the scheduler: kill, throw, insert, balance.
func (t *T) Host() Host { return t.rec().Host() }
