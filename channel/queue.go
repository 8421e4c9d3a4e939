package channel

import "github.com/stackless-go/stackless/tasklet"

// queue is a FIFO of waiters with lazy removal of stale entries: live counts
// the entries whose tasklet still waits, stale the ones that were forgotten
// but not yet dropped. Its length is a power of two, so positions wrap with
// a mask.
//
// A waiter is kept as a 16-byte slot; the value a sender offers (or a
// remote wait) lives in vals, beside it, made only when a queue first holds
// one. A receive queue, where most idle tasklets wait, never has vals: a
// blocked tasklet costs 16 bytes of queue instead of 32.
type queue struct {
	buf         []slot
	vals        []any // nil, or as long as buf
	head, len   int
	live, stale int
}

type slot struct {
	t   *tasklet.T
	seq uint32
	cs  int32
}

func (q *queue) pos(i int) int { return (q.head + i) & (len(q.buf) - 1) }

// get returns the waiter at position p of buf.
func (q *queue) get(p int) Waiter {
	w := Waiter{T: q.buf[p].t, Seq: q.buf[p].seq, Case: q.buf[p].cs}
	if q.vals != nil {
		w.Value = q.vals[p]
	}
	return w
}

// set stores w at position p of buf.
func (q *queue) set(p int, w Waiter) {
	q.buf[p] = slot{t: w.T, seq: w.Seq, cs: w.Case}
	if q.vals != nil {
		q.vals[p] = w.Value
	} else if w.Value != nil {
		q.vals = make([]any, len(q.buf))
		q.vals[p] = w.Value
	}
}

// clearAt empties position p, so nothing it held stays reachable.
func (q *queue) clearAt(p int) {
	q.buf[p] = slot{}
	if q.vals != nil {
		q.vals[p] = nil
	}
}

// liveAt reports whether the waiter at position p still waits (Waiter.Live).
func (q *queue) liveAt(p int) bool {
	if t := q.buf[p].t; t != nil {
		return waitSeq(t) == q.buf[p].seq
	}
	w := q.get(p)
	return w.Live()
}

func (q *queue) pushBack(w Waiter) {
	if q.len == len(q.buf) {
		q.grow()
	}
	q.set(q.pos(q.len), w)
	q.len++
}

func (q *queue) popFront() Waiter {
	w := q.get(q.head)
	q.clearAt(q.head)
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.len--
	return w
}

func (q *queue) at(i int) Waiter { return q.get(q.pos(i)) }

func (q *queue) grow() {
	n := max(2*len(q.buf), 2)
	buf := make([]slot, n)
	var vals []any
	if q.vals != nil {
		vals = make([]any, n)
	}
	for i := 0; i < q.len; i++ {
		p := q.pos(i)
		buf[i] = q.buf[p]
		if vals != nil {
			vals[i] = q.vals[p]
		}
	}
	q.buf, q.vals, q.head = buf, vals, 0
}

func (q *queue) push(w Waiter) {
	if q.stale == 0 && q.len < len(q.buf) && w.Value == nil && q.vals == nil { // the common case: a receiver
		q.buf[(q.head+q.len)&(len(q.buf)-1)] = slot{t: w.T, seq: w.Seq, cs: w.Case}
		q.len++
		q.live++
		return
	}
	if q.pushSender(slot{t: w.T, seq: w.Seq, cs: w.Case}, w.Value) {
		return
	}
	q.pushSlow(w)
}

// pushSender is push's case of a sender with its value, into a queue that
// has room and no stale entries; it reports false, doing nothing, otherwise.
func (q *queue) pushSender(e slot, v any) bool {
	if q.stale != 0 || q.len == len(q.buf) || q.vals == nil {
		return false
	}
	p := (q.head + q.len) & (len(q.buf) - 1)
	q.buf[p] = e
	q.vals[p] = v
	q.len++
	q.live++
	return true
}

func (q *queue) pushSlow(w Waiter) {
	switch {
	case q.live == 0 && q.stale > 0: // only stale entries left: drop them all
		clear(q.buf)
		clear(q.vals)
		q.head, q.len, q.stale = 0, 0, 0
	case q.stale > 32 && q.stale > q.live:
		q.compact()
	}
	q.pushBack(w)
	q.live++
}

// take moves the first live entry into *w, dropping stale ones before it.
// It writes through a pointer: a rendezvous takes one waiter, and returning
// the 32-byte entry by value costs more than the rest of the pop.
func (q *queue) take(w *Waiter) bool {
	if q.live == 0 {
		return false // only stale entries, if any: leave them for compaction
	}
	for q.len > 0 {
		p := q.head
		q.head = (q.head + 1) & (len(q.buf) - 1)
		q.len--
		e := q.buf[p]
		q.buf[p] = slot{}
		var v any
		if q.vals != nil {
			v, q.vals[p] = q.vals[p], nil
		}
		*w = Waiter{T: e.t, Seq: e.seq, Case: e.cs, Value: v}
		if w.Live() {
			q.live--
			return true
		}
		q.stale--
	}
	*w = Waiter{}
	return false
}

// reset empties a queue that holds no live entry.
func (q *queue) reset() {
	if q.len != 0 {
		clear(q.buf)
		clear(q.vals)
		q.head, q.len, q.stale = 0, 0, 0
	}
}

func (q *queue) forget() {
	q.live--
	q.stale++
}

func (q *queue) compact() {
	n := q.len
	for i := 0; i < n; i++ {
		w := q.popFront()
		if w.Live() {
			q.pushBack(w)
		}
	}
	q.stale = 0
}

func (q *queue) replace(swap func(Waiter) (Waiter, bool)) bool {
	for i := 0; i < q.len; i++ {
		p := q.pos(i)
		if !q.liveAt(p) {
			continue
		}
		if w, ok := swap(q.get(p)); ok {
			q.set(p, w)
			return true
		}
	}
	return false
}

func (q *queue) liveEntries() []Waiter {
	return q.appendLive(make([]Waiter, 0, q.live))
}

// appendLive appends the live entries to dst in FIFO order.
func (q *queue) appendLive(dst []Waiter) []Waiter {
	for i := 0; i < q.len; i++ {
		if w := q.at(i); w.Live() {
			dst = append(dst, w)
		}
	}
	return dst
}

// ring is a growable circular buffer.
type ring[E any] struct {
	buf  []E
	head int
	len  int
}

func (r *ring[E]) grow() {
	n := max(2*len(r.buf), 1)
	buf := make([]E, n)
	for i := 0; i < r.len; i++ {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}

func (r *ring[E]) pushBack(e E) {
	if r.len == len(r.buf) {
		r.grow()
	}
	i := r.head + r.len
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = e
	r.len++
}

func (r *ring[E]) popFront() E {
	var zero E
	e := r.buf[r.head]
	r.buf[r.head] = zero
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.len--
	return e
}

func (r *ring[E]) at(i int) E {
	i += r.head
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	return r.buf[i]
}

func (r *ring[E]) slice() []E {
	out := make([]E, r.len)
	for i := range out {
		out[i] = r.at(i)
	}
	return out
}
