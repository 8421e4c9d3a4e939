package channel

// queue is a FIFO of waiters with lazy removal of stale entries: live counts
// the entries whose tasklet still waits, stale the ones that were forgotten
// but not yet dropped.
type queue struct {
	ring[Waiter]
	live, stale int
}

func (q *queue) push(w Waiter) {
	if q.stale > 32 && q.stale > q.live {
		q.compact()
	}
	q.pushBack(w)
	q.live++
}

func (q *queue) pop() (Waiter, bool) {
	for q.len > 0 {
		w := q.popFront()
		if w.Live() {
			q.live--
			return w, true
		}
		q.stale--
	}
	return Waiter{}, false
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
