package channel

import "github.com/stackless-go/stackless/tasklet"

// queue is a FIFO of waiters with lazy removal of stale entries: live counts
// the entries whose tasklet still waits, stale the ones that were forgotten
// but not yet dropped. Its length is a power of two, so positions wrap with
// a mask.
//
// A waiter is kept in parallel arrays, so that a blocked tasklet costs 12
// bytes of queue: its record in ts (8 bytes) and its wait sequence in seqs
// (4 bytes, in an array the collector need not scan). A select case's index
// lives in a second half of seqs, made when a queue first holds one; the
// value a sender offers (or a remote wait) in vals, made when a queue first
// holds one. A receive queue of plain Recvs, where most idle tasklets wait,
// has neither. (A 16-byte slot per waiter cost 2,304 bytes per 128 entries:
// 2,048 and the allocator's header for an array with pointers rounded up;
// ts and seqs take 1,152 and 512.)
type queue struct {
	ts          []*tasklet.T // nil entries: a posted value or a remote waiter
	seqs        []uint32     // wait sequences; then, if longer than ts, case indexes
	vals        []any        // nil, or as long as ts
	head, len   int32
	live, stale int32
}

// slot is a waiter without a value: the one a quiet channel keeps inline.
type slot struct {
	t   *tasklet.T
	seq uint32
	cs  int32
}

func (q *queue) pos(i int) int { return (int(q.head) + i) & (len(q.ts) - 1) }

// caseAt is the select case of the entry at position p (-1: a plain op).
func (q *queue) caseAt(p int) int32 {
	if n := len(q.ts); len(q.seqs) > n {
		return int32(q.seqs[n+p])
	}
	return -1
}

// get returns the waiter at position p.
func (q *queue) get(p int) Waiter {
	w := Waiter{T: q.ts[p], Seq: q.seqs[p], Case: q.caseAt(p)}
	if q.vals != nil {
		w.Value = q.vals[p]
	}
	return w
}

// set stores w at position p.
func (q *queue) set(p int, w Waiter) {
	n := len(q.ts)
	q.ts[p], q.seqs[p] = w.T, w.Seq
	if len(q.seqs) == n && w.Case != -1 {
		q.withCases()
	}
	if len(q.seqs) > n {
		q.seqs[n+p] = uint32(w.Case)
	}
	if q.vals != nil {
		q.vals[p] = w.Value
	} else if w.Value != nil {
		q.vals = make([]any, n)
		q.vals[p] = w.Value
	}
}

// withCases gives the queue its case indexes: -1 (a plain op) for every
// entry so far.
func (q *queue) withCases() {
	n := len(q.ts)
	seqs := make([]uint32, 2*n)
	copy(seqs, q.seqs)
	for i := n; i < 2*n; i++ {
		seqs[i] = 1<<32 - 1 // -1
	}
	q.seqs = seqs
}

// clearAt empties position p, so nothing it held stays reachable.
func (q *queue) clearAt(p int) {
	q.ts[p] = nil
	if q.vals != nil {
		q.vals[p] = nil
	}
}

// liveAt reports whether the waiter at position p still waits (Waiter.Live).
func (q *queue) liveAt(p int) bool {
	if t := q.ts[p]; t != nil {
		return waitSeq(t) == q.seqs[p]
	}
	w := q.get(p)
	return w.Live()
}

func (q *queue) pushBack(w Waiter) {
	if int(q.len) == len(q.ts) {
		q.grow()
	}
	q.set(q.pos(int(q.len)), w)
	q.len++
}

func (q *queue) popFront() Waiter {
	p := int(q.head)
	w := q.get(p)
	q.clearAt(p)
	q.head = int32((p + 1) & (len(q.ts) - 1))
	q.len--
	return w
}

func (q *queue) at(i int) Waiter { return q.get(q.pos(i)) }

func (q *queue) grow() { q.resize(max(2*len(q.ts), 2)) }

// resize moves the entries into arrays of length n (a power of two, at
// least q.len), the first at position 0.
func (q *queue) resize(n int) {
	old := len(q.ts)
	ts := make([]*tasklet.T, n)
	cases := len(q.seqs) > old
	seqs := make([]uint32, n)
	if cases {
		seqs = make([]uint32, 2*n)
	}
	var vals []any
	if q.vals != nil {
		vals = make([]any, n)
	}
	for i := 0; i < int(q.len); i++ {
		p := q.pos(i)
		ts[i], seqs[i] = q.ts[p], q.seqs[p]
		if cases {
			seqs[n+i] = q.seqs[old+p]
		}
		if vals != nil {
			vals[i] = q.vals[p]
		}
	}
	q.ts, q.seqs, q.vals, q.head = ts, seqs, vals, 0
}

func (q *queue) push(w Waiter) {
	n := len(q.ts)
	if q.stale == 0 && int(q.len) < n && w.Value == nil && w.Case == -1 && q.vals == nil && len(q.seqs) == n { // the common case: a plain receiver
		p := (int(q.head) + int(q.len)) & (n - 1)
		q.ts[p], q.seqs[p] = w.T, w.Seq
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
	n := len(q.ts)
	if q.stale != 0 || int(q.len) == n || q.vals == nil || len(q.seqs) != n || e.cs != -1 {
		return false
	}
	p := (int(q.head) + int(q.len)) & (n - 1)
	q.ts[p], q.seqs[p] = e.t, e.seq
	q.vals[p] = v
	q.len++
	q.live++
	return true
}

func (q *queue) pushSlow(w Waiter) {
	switch {
	case q.live == 0 && q.stale > 0: // only stale entries left: drop them all
		clear(q.ts)
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
	n := len(q.ts)
	for q.len > 0 {
		p := int(q.head)
		q.head = int32((p + 1) & (n - 1))
		q.len--
		t := q.ts[p]
		q.ts[p] = nil
		*w = Waiter{T: t, Seq: q.seqs[p], Case: q.caseAt(p)}
		if q.vals != nil {
			w.Value, q.vals[p] = q.vals[p], nil
		}
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
		clear(q.ts)
		clear(q.vals)
		q.head, q.len, q.stale = 0, 0, 0
	}
}

// forget takes one waiter out of the live count; its entry goes when a
// take reaches it or a compaction drops it. Once forgotten entries
// outnumber the waiting ones (and 32), forget compacts: a channel nobody
// sends on or receives from again (its receivers killed, or gone through
// another case of their selects) kept them for good, and through them the
// records and state of the tasklets that left. Each compaction at least
// halves the queue, so a forget costs O(1) amortized.
func (q *queue) forget() {
	q.live--
	q.stale++
	if q.stale > 32 && q.stale > q.live {
		q.compact()
	}
}

// compact drops the entries that no longer wait. The waiter being
// forgotten may still look live (its tasklet starts its next wait right
// after), so it can stay, counted stale, until a take or the next
// compaction drops it.
func (q *queue) compact() {
	n := int(q.len)
	for i := 0; i < n; i++ {
		w := q.popFront()
		if w.Live() {
			q.pushBack(w)
		}
	}
	q.stale = q.len - q.live
	if n := len(q.ts); n > minShrink && int(q.len) <= n/4 {
		size := minShrink
		for size < 2*int(q.len) {
			size *= 2
		}
		q.resize(size)
	}
}

// minShrink is the length a compacted queue keeps its arrays under; a
// longer one that is a quarter full or less moves into arrays twice what
// it holds (a power of two), so that a channel a million tasklets once
// waited on does not keep 12 bytes for each of them when a few are left.
const minShrink = 64

func (q *queue) replace(swap func(Waiter) (Waiter, bool)) bool {
	for i := 0; i < int(q.len); i++ {
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
	for i := 0; i < int(q.len); i++ {
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

// pushAll appends es in order: at most two copies.
func (r *ring[E]) pushAll(es []E) {
	for r.len+len(es) > len(r.buf) {
		r.grow()
	}
	i := r.head + r.len
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	k := copy(r.buf[i:], es)
	copy(r.buf, es[k:])
	r.len += len(es)
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
