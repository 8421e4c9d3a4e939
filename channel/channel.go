package channel

import (
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// ID identifies a channel across a cluster.
type ID = tasklet.ChanID

// ErrClosed is delivered to every tasklet blocked on a channel that is
// closed, and to later sends, and to receives once the buffer is drained.
var ErrClosed = errors.New("channel closed")

// Bomb carries an error through a channel (Stackless send_exception): the
// receiver's step sees Err as t.Err().
type Bomb struct{ Err error }

// Waiter is one blocked operation in a channel queue: a local tasklet's, a
// value posted from outside (T nil), a remote tasklet's (T nil, Value a
// *Remote), or the host's waiting in scheduler.Recv or Send (T with ID 0).
type Waiter struct {
	T     *tasklet.T // nil for a posted value or a remote waiter
	Seq   uint32     // T's wait sequence when it blocked
	Case  int32      // select case index, -1 for a plain Send or Recv
	Value any        // the value a sender offers, or the *Remote
}

// Remote is the wait of a tasklet on another node, queued at the channel's
// home so that it keeps its FIFO place and counts in the balance.
type Remote struct {
	Node    uint16
	Tasklet tasklet.ID
	Seq     uint32
	Value   any   // the value a remote sender offers
	Done    *bool // shared by every case of one wait: set once one fires or the wait is cancelled
}

// Live reports whether the waiter's tasklet still waits on this entry.
func (w *Waiter) Live() bool {
	if w.T != nil {
		return waitSeq(w.T) == w.Seq
	}
	if r, ok := w.Value.(*Remote); ok {
		return !*r.Done
	}
	return true
}

func waitSeq(t *tasklet.T) uint32 {
	return (*core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case])(t).WaitSeq()
}

// Remote returns the remote wait of a waiter, or nil.
func (w *Waiter) Remote() *Remote {
	if w.T != nil {
		return nil
	}
	r, _ := w.Value.(*Remote)
	return r
}

// Offered is the value a sender offers, local or remote.
func (w *Waiter) Offered() any {
	if r := w.Remote(); r != nil {
		return r.Value
	}
	return w.Value
}

// Preference values (Stackless channel.preference).
const (
	PreferReceiver = -1 // default: a woken receiver runs at once
	PreferNeither  = 0  // the caller continues
	PreferSender   = 1  // the sender continues
)

// Channel is a rendezvous (capacity 0) or buffered channel.
type Channel struct {
	id          ID
	pref        int8
	scheduleAll bool
	closed      bool
	dirty       bool
	send, recv  queue
	buf         ring[any]
	cap         int
}

// New returns an open channel; capacity 0 makes a rendezvous channel.
func New(id ID, capacity int) *Channel {
	if capacity < 0 {
		capacity = 0
	}
	return &Channel{id: id, pref: PreferReceiver, cap: capacity}
}

// ID returns the channel's ID.
func (c *Channel) ID() ID { return c.id }

// Cap is the buffer capacity (0 for rendezvous).
func (c *Channel) Cap() int { return c.cap }

// Len is the number of buffered values.
func (c *Channel) Len() int { return c.buf.len }

// Balance is the number of blocked senders minus blocked receivers.
func (c *Channel) Balance() int { return c.send.live - c.recv.live }

// Preference is -1 (prefer receiver), 0 or 1 (prefer sender).
func (c *Channel) Preference() int { return int(c.pref) }

// SetPreference sets the preference, clamped to -1..1 as in Stackless.
func (c *Channel) SetPreference(p int) {
	c.pref = int8(max(-1, min(1, p)))
}

// ScheduleAll reports whether every transfer switches (overriding preference).
func (c *Channel) ScheduleAll() bool { return c.scheduleAll }

// SetScheduleAll sets schedule-all mode.
func (c *Channel) SetScheduleAll(on bool) { c.scheduleAll = on }

// Closed reports whether Close was called.
func (c *Channel) Closed() bool { return c.closed }

// SetClosed marks the channel closed or open again.
func (c *Channel) SetClosed(on bool) { c.closed = on }

// Idle reports whether the channel is closed with nothing buffered and no
// waiters, so nothing observable remains in it.
func (c *Channel) Idle() bool {
	return c.closed && c.buf.len == 0 && c.send.live == 0 && c.recv.live == 0
}

// MarkDirty marks the channel changed and reports whether it was clean.
func (c *Channel) MarkDirty() (wasClean bool) {
	wasClean = !c.dirty
	c.dirty = true
	return wasClean
}

// MarkClean clears the changed mark.
func (c *Channel) MarkClean() { c.dirty = false }

// PushSender queues a blocked sender at the back.
func (c *Channel) PushSender(w Waiter) { c.send.push(w) }

// PushReceiver queues a blocked receiver at the back.
func (c *Channel) PushReceiver(w Waiter) { c.recv.push(w) }

// PopSender takes the first live blocked sender into *w and reports
// whether there was one.
func (c *Channel) PopSender(w *Waiter) bool { return c.send.take(w) }

// PopReceiver takes the first live blocked receiver into *w and reports
// whether there was one.
func (c *Channel) PopReceiver(w *Waiter) bool { return c.recv.take(w) }

// ForgetSender takes one cancelled sender out of the balance; its entry is
// dropped lazily.
func (c *Channel) ForgetSender() { c.send.forget() }

// ForgetReceiver is ForgetSender for receivers.
func (c *Channel) ForgetReceiver() { c.recv.forget() }

// Replace swaps the first live entry, in either queue, for which swap
// returns a replacement, keeping its place: a tasklet migrating away leaves
// a remote waiter, one arriving takes its remote waiter back. It reports
// whether an entry was swapped.
func (c *Channel) Replace(swap func(Waiter) (Waiter, bool)) bool {
	return c.send.replace(swap) || c.recv.replace(swap)
}

// Senders returns the live blocked senders in FIFO order.
func (c *Channel) Senders() []Waiter { return c.send.liveEntries() }

// Receivers returns the live blocked receivers in FIFO order.
func (c *Channel) Receivers() []Waiter { return c.recv.liveEntries() }

// BufFull reports whether the buffer has no room.
func (c *Channel) BufFull() bool { return c.buf.len >= c.cap }

// BufPush appends v to the buffer; the caller checks BufFull first.
func (c *Channel) BufPush(v any) { c.buf.pushBack(v) }

// BufPop takes the oldest buffered value.
func (c *Channel) BufPop() (any, bool) {
	if c.buf.len == 0 {
		return nil, false
	}
	return c.buf.popFront(), true
}

// Buffer returns the buffered values, oldest first.
func (c *Channel) Buffer() []any { return c.buf.slice() }

func (c *Channel) String() string {
	return fmt.Sprintf("%v(cap %d, balance %d, buffered %d, closed %t)", c.id, c.cap, c.Balance(), c.Len(), c.closed)
}

// HasSenders reports whether a live sender (or posted value) waits.
func (c *Channel) HasSenders() bool { return c.send.live > 0 }

// HasReceivers reports whether a live receiver waits.
func (c *Channel) HasReceivers() bool { return c.recv.live > 0 }
