package tasklet

import "time"

// T is a tasklet as the scheduler keeps it, and the context its behavior's
// Step receives. Behaviors use the methods in this file; the methods in
// control.go belong to the scheduler.
type T struct {
	id     ID
	b      Behavior
	host   *hostRef
	steps  uint64
	value  any
	err    error
	sel    *selectBuf // the cases of the last Select, allocated on first use
	wch    ChanID     // the channel of a plain Send or Recv wait
	wait   uint32
	chosen int32
	mark   uint32 // scheduler scratch (tick number)
	state  State
	flags  uint8
}

// hostRef lets every tasklet of a scheduler share one pointer to its Host,
// keeping T in a smaller size class.
type hostRef struct{ Host }

type selectBuf struct{ cases []Case }

const (
	flagErrRead uint8 = 1 << iota
	flagAtomic
	flagBlockTrap
	flagDirty
	flagWaitSend // the wait is a plain Send on wch
	flagWaitRecv // the wait is a plain Recv on wch
)

// ID returns the tasklet's ID.
func (t *T) ID() ID { return t.id }

// Behavior returns the tasklet's behavior (its state).
func (t *T) Behavior() Behavior { return t.b }

// Value is what the suspension that just ended delivered: the value received
// by a Recv or a receive case of a Select.
func (t *T) Value() any { return t.value }

// Err is the error delivered to this step: [ErrKilled], an error thrown into
// the tasklet, channel.ErrClosed, or an error sent with SendErr. Reading it
// marks it handled; an error nobody reads ends the tasklet.
func (t *T) Err() error {
	t.flags |= flagErrRead
	return t.err
}

// Chosen is the index of the select case that fired, or -1.
func (t *T) Chosen() int { return int(t.chosen) }

// Steps is how many steps the tasklet has run, counting this one.
func (t *T) Steps() uint64 { return t.steps }

// Atomic reports whether the watchdog may not interrupt the tasklet.
func (t *T) Atomic() bool { return t.flags&flagAtomic != 0 }

// SetAtomic makes the tasklet immune to watchdog interruption (or not) and
// returns the old setting.
func (t *T) SetAtomic(on bool) bool { return t.setFlag(flagAtomic, on) }

// BlockTrap reports whether blocking operations fail with ErrBlockTrap.
func (t *T) BlockTrap() bool { return t.flags&flagBlockTrap != 0 }

// SetBlockTrap makes operations that would block deliver ErrBlockTrap
// instead, and returns the old setting.
func (t *T) SetBlockTrap(on bool) bool { return t.setFlag(flagBlockTrap, on) }

func (t *T) setFlag(f uint8, on bool) bool {
	old := t.flags&f != 0
	if on {
		t.flags |= f
	} else {
		t.flags &^= f
	}
	return old
}

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
	if t.sel == nil {
		t.sel = new(selectBuf)
	}
	t.sel.cases = append(t.sel.cases[:0], cases...)
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

// Spawn starts a new tasklet at the back of the run queue.
func (t *T) Spawn(b Behavior) ID { return t.host.Spawn(b) }

// NewChannel makes a channel; capacity 0 is a rendezvous channel.
func (t *T) NewChannel(capacity int) ChanID { return t.host.NewChannel(capacity) }

// Close closes ch: every tasklet blocked on it wakes with channel.ErrClosed;
// buffered values can still be received.
func (t *T) Close(ch ChanID) error { return t.host.Close(ch) }

// Now is the scheduler's clock.
func (t *T) Now() time.Duration { return t.host.Now() }

// Host gives access to the rest of the scheduler: kill, throw, insert, balance.
func (t *T) Host() Host { return t.host.Host }
