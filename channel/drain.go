package channel

import "github.com/stackless-go/stackless/tasklet"

// Drain is a fan-in server's receive: every value waiting in a channel,
// taken in one operation instead of one receive (and one switch) each.

// Drain moves into dst, oldest first, the values that len(dst) receives
// would take now: the buffered ones, then those of blocked senders, a
// sender's value going into the buffer as a place frees, so the order is
// that of the sends. It stops after a Bomb (the last value moved).
//
// Every sender whose value it took is appended to woke, in the order they
// blocked, for the caller to wake: a local tasklet blocked in a plain Send
// as itself, any other (a posted value, a remote waiter, a select's send
// case) as nil, standing for the next entry appended to others. A plain
// sender, one per value in a fan-in, so costs 8 bytes of woke, copied in
// bulk from the queue. It returns how many values it moved.
func (c *Channel) Drain(dst []any, woke []*tasklet.T, others []Waiter) (int, []*tasklet.T, []Waiter) {
	m := c.more
	if m == nil {
		return 0, woke, others
	}
	n := 0
	for n < len(dst) {
		k := m.popBuf(dst[n:], c.bombs)
		if k == 0 { // nothing buffered: straight from the next sender
			var w Waiter
			if !m.send.take(&w) {
				break
			}
			dst[n], k = w.Offered(), 1
			woke, others = wokeBy(w, woke, others)
		} else {
			woke, others = m.refill(k, woke, others)
		}
		n += k
		if _, bomb := dst[n-1].(Bomb); bomb {
			break
		}
	}
	if m.buf.len == 0 && m.send.len == 0 {
		c.bombs = false // nothing left that could be one
	}
	return n, woke, others
}

// wokeBy appends sender w to woke and others as Drain lists them.
func wokeBy(w Waiter, woke []*tasklet.T, others []Waiter) ([]*tasklet.T, []Waiter) {
	if w.T != nil && w.Case < 0 {
		return append(woke, w.T), others
	}
	return append(woke, nil), append(others, w)
}

// refill moves the values of up to k blocked senders into the buffer, which
// has room for them, appending the senders to woke and others: what k
// receives that took buffered values do after each take. A run of live
// local plain senders at the front of the queue, the common case, moves in
// bulk (a scan for the run's end, then copies); anything else (a posted
// value, a remote, stale or selecting entry) goes through take.
func (m *waits) refill(k int, woke []*tasklet.T, others []Waiter) ([]*tasklet.T, []Waiter) {
	q, r := &m.send, &m.buf
	for k > 0 && q.live > 0 {
		n := q.plainRun(min(k, int(q.live)))
		if n == 0 {
			var w Waiter
			if !q.take(&w) {
				break
			}
			r.pushBack(w.Offered())
			woke, others = wokeBy(w, woke, others)
			k--
			continue
		}
		h := int(q.head)
		copyRing(r.buf, (r.head+r.len)&(len(r.buf)-1), q.vals, h, n)
		r.len += n
		woke = appendRing(woke, q.ts, h, n)
		clearRing(q.ts, h, n)
		clearRing(q.vals, h, n)
		q.head = int32((h + n) & (len(q.ts) - 1))
		q.len -= int32(n)
		q.live -= int32(n)
		k -= n
	}
	return woke, others
}

// plainRun counts the live local senders in a plain Send, up to lim, at the
// front of a queue that holds values and no select case: the entries
// refill may move in bulk.
func (q *queue) plainRun(lim int) int {
	nq := len(q.ts)
	if q.vals == nil || len(q.seqs) != nq {
		return 0
	}
	h := int(q.head)
	end := min(h+lim, nq)
	n := plainIn(q.ts[h:end], q.seqs[h:end])
	if n == end-h && n < lim { // the run goes on past the wrap
		n += plainIn(q.ts[:lim-n], q.seqs[:lim-n])
	}
	return n
}

// plainIn counts the entries at the front of ts and seqs whose tasklet
// still waits in the wait the entry names.
func plainIn(ts []*tasklet.T, seqs []uint32) int {
	seqs = seqs[:len(ts)]
	for i, t := range ts {
		if t == nil || waitSeq(t) != seqs[i] {
			return i
		}
	}
	return len(ts)
}

// copyRing copies n elements of ring src from position s into ring dst
// from position d; both lengths are powers of two.
func copyRing[E any](dst []E, d int, src []E, s int, n int) {
	for n > 0 {
		k := min(n, len(src)-s, len(dst)-d)
		copy(dst[d:d+k], src[s:s+k])
		d, s, n = (d+k)&(len(dst)-1), (s+k)&(len(src)-1), n-k
	}
}

// appendRing appends n elements of ring src from position s to dst.
func appendRing[E any](dst []E, src []E, s int, n int) []E {
	k := min(n, len(src)-s)
	dst = append(dst, src[s:s+k]...)
	return append(dst, src[:n-k]...)
}

// clearRing zeroes n elements of ring r from position s.
func clearRing[E any](r []E, s int, n int) {
	k := min(n, len(r)-s)
	clear(r[s : s+k])
	clear(r[:n-k])
}

// bombIn returns the index of the first Bomb in vs, or -1: four values a
// round, a fan-in server's whole batch is scanned for a Bomb it rarely has.
func bombIn(vs []any) int {
	i := 0
	for ; i+4 <= len(vs); i += 4 {
		w := vs[i : i+4 : i+4]
		if isBomb(w[0]) || isBomb(w[1]) || isBomb(w[2]) || isBomb(w[3]) {
			break
		}
	}
	for ; i < len(vs); i++ {
		if isBomb(vs[i]) {
			return i
		}
	}
	return -1
}

func isBomb(v any) bool {
	_, ok := v.(Bomb)
	return ok
}

// popBuf moves buffered values, oldest first, into dst until dst is full,
// the buffer is empty or a Bomb was moved (the last one moved), and returns
// how many it moved: two copies, and a scan for the Bomb if bombs says
// there may be one.
func (m *waits) popBuf(dst []any, bombs bool) int {
	r := &m.buf
	k := min(len(dst), r.len)
	if k == 0 {
		return 0
	}
	n := copy(dst[:k], r.buf[r.head:])
	copy(dst[n:k], r.buf)
	if bombs {
		if i := bombIn(dst[:k]); i >= 0 {
			clear(dst[i+1 : k]) // still buffered
			k = i + 1
		}
	}
	clearRing(r.buf, r.head, k)
	r.head = (r.head + k) & (len(r.buf) - 1) // the length is a power of two (grow doubles from 1)
	r.len -= k
	return k
}
