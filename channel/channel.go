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
//
// It is small while it is quiet: the queues and the buffer live in a side
// record (more), made when a channel first holds a blocked sender, a second
// receiver or a buffered value. Until then the one blocked receiver, the
// case of an actor's idle inbox and of every other step of a ping-pong, is
// kept in the channel itself (one): 48 bytes for a channel with a waiting
// receiver, where the two queues and the buffer took 224 and a queue array
// more.
type Channel struct {
	id          ID
	cap         int
	pref        int8
	scheduleAll bool
	closed      bool
	dirty       bool
	direct      bool   // open, default preference, no schedule-all: see TakeDirect
	bombs       bool   // a Bomb may be buffered or offered by a blocked sender (see NoteBomb)
	one         slot   // the only blocked receiver while more holds none (t nil: none)
	more        *waits // nil until needed
}

// waits is the part of a channel that only a busy one needs.
type waits struct {
	send, recv queue
	buf        ring[any]
}

// New returns an open channel; capacity 0 makes a rendezvous channel.
func New(id ID, capacity int) *Channel {
	if capacity < 0 {
		capacity = 0
	}
	return &Channel{id: id, pref: PreferReceiver, cap: capacity, direct: true}
}

// update recomputes direct after a change of preference, mode or close.
func (c *Channel) update() {
	c.direct = c.pref == PreferReceiver && !c.scheduleAll && !c.closed
}

// TakeDirect takes the lone blocked receiver for a send that hands it the
// value and runs it at once, the default rendezvous: a plain Recv (not a
// select case) on an open channel with the default preference and without
// schedule-all. It returns nil when the send must take the general path
// (PopReceiver and the preference rules). Small enough to inline.
func (c *Channel) TakeDirect() *tasklet.T {
	if t := c.one.t; t != nil && c.one.cs < 0 && c.direct && waitSeq(t) == c.one.seq {
		c.one.t = nil // the slot is empty; its seq and case are not read until it is filled again
		return t
	}
	return nil
}

// moreWaits returns the side record, making it on first use.
func (c *Channel) moreWaits() *waits {
	if c.more == nil {
		c.more = new(waits)
	}
	return c.more
}

// ID returns the channel's ID.
func (c *Channel) ID() ID { return c.id }

// IDRef points to the channel's ID, which never changes: a tasklet record
// names the channel of its plain wait with it.
func (c *Channel) IDRef() *uint64 { return (*uint64)(&c.id) }

// Cap is the buffer capacity (0 for rendezvous).
func (c *Channel) Cap() int { return c.cap }

// Len is the number of buffered values.
func (c *Channel) Len() int {
	if c.more == nil {
		return 0
	}
	return c.more.buf.len
}

// Balance is the number of blocked senders minus blocked receivers.
func (c *Channel) Balance() int { return c.senders() - c.receivers() }

// senders is the number of live blocked senders.
func (c *Channel) senders() int {
	if c.more == nil {
		return 0
	}
	return int(c.more.send.live)
}

// receivers is the number of live blocked receivers.
func (c *Channel) receivers() int {
	n := 0
	if c.one.t != nil {
		n = 1
	}
	if c.more != nil {
		n += int(c.more.recv.live)
	}
	return n
}

// Preference is -1 (prefer receiver), 0 or 1 (prefer sender).
func (c *Channel) Preference() int { return int(c.pref) }

// SetPreference sets the preference, clamped to -1..1 as in Stackless.
func (c *Channel) SetPreference(p int) {
	c.pref = int8(max(-1, min(1, p)))
	c.update()
}

// ScheduleAll reports whether every transfer switches (overriding preference).
func (c *Channel) ScheduleAll() bool { return c.scheduleAll }

// SetScheduleAll sets schedule-all mode.
func (c *Channel) SetScheduleAll(on bool) {
	c.scheduleAll = on
	c.update()
}

// Closed reports whether Close was called.
func (c *Channel) Closed() bool { return c.closed }

// SetClosed marks the channel closed or open again.
func (c *Channel) SetClosed(on bool) {
	c.closed = on
	c.update()
}

// Idle reports whether the channel is closed with nothing buffered and no
// waiters, so nothing observable remains in it.
func (c *Channel) Idle() bool {
	return c.closed && c.Len() == 0 && c.senders() == 0 && c.receivers() == 0
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
func (c *Channel) PushSender(w Waiter) {
	c.NoteBomb(w.Offered())
	c.moreWaits().send.push(w)
}

// NoteBomb records that v, if a Bomb, is entering the channel, so that
// Drain looks for it. SendQuick and WaitToSend leave this to their caller
// (it would put them over the inliner's budget, and a fan-in's sender
// knows its value); every other way in does it itself. Without a Bomb
// noted, Drain moves buffered values without testing each: a fan-in
// server's batch would be scanned for a Bomb it almost never has.
func (c *Channel) NoteBomb(v any) {
	if _, ok := v.(Bomb); ok {
		c.bombs = true
	}
}

// WaitToSend queues local tasklet t, blocking in a plain Send of v (no
// Bomb, or noted with NoteBomb) in wait seq, at the back of the senders and reports true when that needed no
// growing; else the caller uses PushSender. It is on the path of every
// sender that finds a fan-in's buffer full, so it is kept within the
// inliner's budget (80; the call cost a third of it):
//   - vals and seqs of equal length mean both are as long as ts: vals is
//     nil or len(ts) long, seqs len(ts) or twice that (case indexes), and
//     the queue's length test has ruled out a ts of length 0.
//   - stale entries are not tested (push leaves compaction to pushSlow):
//     appending after them keeps the order, take drops them, and the queue
//     cannot grow past them without pushSlow, which compacts.
func (c *Channel) WaitToSend(t *tasklet.T, seq uint32, v any) bool {
	m := c.more
	if m == nil {
		return false
	}
	q := &m.send
	n := len(q.ts)
	if int(q.len) == n || len(q.vals) != len(q.seqs) {
		return false
	}
	p := int(q.head+q.len) & (n - 1)
	q.ts[p], q.seqs[p], q.vals[p] = t, seq, v
	q.len++
	q.live++
	return true
}

// PushReceiver queues a blocked receiver at the back.
func (c *Channel) PushReceiver(w Waiter) {
	if c.one.t == nil && c.more == nil && w.Value == nil {
		c.one = slot{t: w.T, seq: w.Seq, cs: w.Case}
		return
	}
	c.pushReceiver(w)
}

// WaitAlone puts local tasklet t, blocking in a plain Recv in wait seq,
// in the channel's own slot and reports true when no other receiver waits
// and no queue was made; else the caller uses PushReceiver. Small enough to
// inline on the path of every blocking receive.
func (c *Channel) WaitAlone(t *tasklet.T, seq uint32) bool {
	if c.one.t != nil || c.more != nil {
		return false
	}
	c.one = slot{t: t, seq: seq, cs: -1}
	return true
}

// Quiet reports whether the channel is open and holds nothing: no
// buffered value, no blocked sender or receiver, no side record. A receive
// on a quiet channel blocks alone (WaitQuiet): one test on the path of
// every blocking receive of a ping-pong, where Len, HasSenders, Closed and
// WaitAlone took four.
func (c *Channel) Quiet() bool { return c.more == nil && c.one.t == nil && !c.closed }

// WaitQuiet puts local tasklet t, blocking in a plain Recv in wait seq, in
// the slot of a channel that is Quiet.
func (c *Channel) WaitQuiet(t *tasklet.T, seq uint32) { c.one = slot{t: t, seq: seq, cs: -1} }

// pushReceiver is PushReceiver past the channel's own slot: a receiver goes
// there only when no other waits (a queue of stale entries is dropped), and
// the one there moves into the queue, keeping its place, when another comes.
func (c *Channel) pushReceiver(w Waiter) {
	if c.one.t == nil && w.T != nil && w.Value == nil && c.more.recv.live == 0 {
		c.more.recv.reset()
		c.one = slot{t: w.T, seq: w.Seq, cs: w.Case}
		return
	}
	q := &c.moreWaits().recv
	if c.one.t != nil {
		q.push(Waiter{T: c.one.t, Seq: c.one.seq, Case: c.one.cs})
		c.one = slot{}
	}
	q.push(w)
}

// PopSender takes the first live blocked sender into *w and reports
// whether there was one.
func (c *Channel) PopSender(w *Waiter) bool {
	if c.more == nil {
		return false
	}
	return c.more.send.take(w)
}

// PopReceiver takes the first live blocked receiver into *w and reports
// whether there was one.
func (c *Channel) PopReceiver(w *Waiter) bool {
	if t := c.one.t; t != nil && waitSeq(t) == c.one.seq {
		*w = Waiter{T: t, Seq: c.one.seq, Case: c.one.cs}
		c.one.t = nil // as in TakeDirect
		return true
	}
	return c.popReceiver(w)
}

// popReceiver is PopReceiver past the channel's own slot. A receiver there
// whose wait ended would have been forgotten and cleared; one that is found
// anyway is dropped, as the queue drops its stale entries.
func (c *Channel) popReceiver(w *Waiter) bool {
	if c.one.t != nil {
		c.one = slot{}
		return false
	}
	if c.more == nil {
		return false
	}
	return c.more.recv.take(w)
}

// ForgetSender takes one cancelled sender out of the balance; its entry is
// dropped lazily.
func (c *Channel) ForgetSender() { c.moreWaits().send.forget() }

// ForgetReceiver is ForgetSender for receivers. A receiver in the channel's
// own slot is the only one waiting, so it is the one forgotten, and it is
// dropped at once.
func (c *Channel) ForgetReceiver() {
	if c.one.t != nil {
		c.one = slot{}
		return
	}
	c.moreWaits().recv.forget()
}

// Replace swaps the first live entry, in either queue, for which swap
// returns a replacement, keeping its place: a tasklet migrating away leaves
// a remote waiter, one arriving takes its remote waiter back. It reports
// whether an entry was swapped.
func (c *Channel) Replace(swap func(Waiter) (Waiter, bool)) bool {
	if c.more != nil && c.more.send.replace(swap) {
		c.bombs = true // whatever the new sender offers (a rare swap)
		return true
	}
	if e := c.one; e.t != nil {
		w, ok := swap(Waiter{T: e.t, Seq: e.seq, Case: e.cs})
		if !ok {
			return false
		}
		c.one = slot{}
		c.PushReceiver(w) // back in the slot, or alone in the queue if it is remote
		return true
	}
	return c.more != nil && c.more.recv.replace(swap)
}

// Senders returns the live blocked senders in FIFO order.
func (c *Channel) Senders() []Waiter {
	if c.more == nil {
		return []Waiter{}
	}
	return c.more.send.liveEntries()
}

// Receivers returns the live blocked receivers in FIFO order.
func (c *Channel) Receivers() []Waiter {
	if e := c.one; e.t != nil {
		return []Waiter{{T: e.t, Seq: e.seq, Case: e.cs}}
	}
	if c.more == nil {
		return []Waiter{}
	}
	return c.more.recv.liveEntries()
}

// What SendQuick did.
const (
	SendSlow     = iota // nothing: the send takes the general path
	SendBuffered        // v is in the buffer
	SendBlocks          // the buffer is full and no receiver waits: the sender must wait
)

// SendQuick does the part of a send that needs no partner (the caller has
// called NoteBomb(v), or knows v is no Bomb): on an open
// channel with no receiver waiting, it puts v in the buffer if there is
// room, or reports that the sender must wait. Anything else (a receiver to
// hand v to, a closed channel, a buffer to grow) is left to the general
// path. A sender that goes on (preference 1, or nobody waiting) fills a
// fan-in server's inbox through it.
func (c *Channel) SendQuick(v any) int {
	m := c.more
	if m == nil || c.one.t != nil || m.recv.live != 0 || c.closed {
		return SendSlow
	}
	r := &m.buf
	switch {
	case r.len >= c.cap:
		return SendBlocks
	case r.len == len(r.buf):
		return SendSlow
	}
	r.buf[(r.head+r.len)&(len(r.buf)-1)] = v // the length is a power of two (grow doubles from 1)
	r.len++
	return SendBuffered
}

// AppendSenders appends the live blocked senders to dst in FIFO order, as
// Senders lists them, without a slice of its own: a checkpoint reads every
// channel of a big world this way.
func (c *Channel) AppendSenders(dst []Waiter) []Waiter {
	if c.more == nil {
		return dst
	}
	return c.more.send.appendLive(dst)
}

// AppendReceivers is AppendSenders for the blocked receivers.
func (c *Channel) AppendReceivers(dst []Waiter) []Waiter {
	if e := c.one; e.t != nil {
		return append(dst, Waiter{T: e.t, Seq: e.seq, Case: e.cs})
	}
	if c.more == nil {
		return dst
	}
	return c.more.recv.appendLive(dst)
}

// BufFull reports whether the buffer has no room.
func (c *Channel) BufFull() bool { return c.Len() >= c.cap }

// BufPush appends v to the buffer; the caller checks BufFull first.
func (c *Channel) BufPush(v any) {
	c.NoteBomb(v)
	c.moreWaits().buf.pushBack(v)
}

// BufPushAll appends the first of vs that the buffer has room for, in
// order, and returns how many: one copy, where a peer's batch of values
// cost a BufPush each at their home (the caller checks that no receiver
// waits, as before BufPush).
func (c *Channel) BufPushAll(vs []any) int {
	k := min(len(vs), c.cap-c.Len())
	if k <= 0 {
		return 0
	}
	if !c.bombs && bombIn(vs[:k]) >= 0 {
		c.bombs = true // as NoteBomb
	}
	c.moreWaits().buf.pushAll(vs[:k])
	return k
}

// BufPop takes the oldest buffered value.
func (c *Channel) BufPop() (any, bool) {
	if c.more == nil || c.more.buf.len == 0 {
		return nil, false
	}
	return c.more.buf.popFront(), true
}

// Buffer returns the buffered values, oldest first.
func (c *Channel) Buffer() []any {
	if c.more == nil {
		return []any{}
	}
	return c.more.buf.slice()
}

func (c *Channel) String() string {
	return fmt.Sprintf("%v(cap %d, balance %d, buffered %d, closed %t)", c.id, c.cap, c.Balance(), c.Len(), c.closed)
}

// HasSenders reports whether a live sender (or posted value) waits.
func (c *Channel) HasSenders() bool { return c.more != nil && c.more.send.live > 0 }

// HasReceivers reports whether a live receiver waits.
func (c *Channel) HasReceivers() bool {
	return c.one.t != nil || c.more != nil && c.more.recv.live > 0
}
