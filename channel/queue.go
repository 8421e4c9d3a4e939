package channel

// queue is a FIFO of waiters with lazy removal of stale entries: live counts
// the entries whose tasklet still waits, stale the ones that were forgotten
// but not yet dropped. Its length is a power of two, so positions wrap with
// a mask.
type queue struct {
	buf         []Waiter
	head, len   int
	live, stale int
}

func (q *queue) pushBack(w Waiter) {
	if q.len == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.len)&(len(q.buf)-1)] = w
	q.len++
}

func (q *queue) popFront() Waiter {
	e := q.buf[q.head]
	q.buf[q.head] = Waiter{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.len--
	return e
}

func (q *queue) at(i int) Waiter { return q.buf[(q.head+i)&(len(q.buf)-1)] }

func (q *queue) grow() {
	buf := make([]Waiter, max(2*len(q.buf), 2))
	for i := 0; i < q.len; i++ {
		buf[i] = q.at(i)
	}
	q.buf, q.head = buf, 0
}

func (q *queue) push(w Waiter) {
	if q.stale == 0 && q.len < len(q.buf) { // the common case, small enough to inline
		q.buf[(q.head+q.len)&(len(q.buf)-1)] = w
		q.len++
		q.live++
		return
	}
	q.pushSlow(w)
}

func (q *queue) pushSlow(w Waiter) {
	switch {
	case q.live == 0 && q.stale > 0: // only stale entries left: drop them all
		clear(q.buf)
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
		e := &q.buf[q.head]
		q.head = (q.head + 1) & (len(q.buf) - 1)
		q.len--
		if e.Live() {
			*w = *e
			*e = Waiter{}
			q.live--
			return true
		}
		*e = Waiter{}
		q.stale--
	}
	return false
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
		e := &q.buf[(q.head+i)&(len(q.buf)-1)]
		if !e.Live() {
			continue
		}
		if w, ok := swap(*e); ok {
			*e = w
			return true
		}
	}
	return false
}

func (q *queue) liveEntries() []Waiter {
	out := make([]Waiter, 0, q.live)
	for i := 0; i < q.len; i++ {
		if w := q.at(i); w.Live() {
			out = append(out, w)
		}
	}
	return out
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
