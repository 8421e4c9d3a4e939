package channel

// Drain is a fan-in server's receive: every value waiting in a channel,
// taken in one operation instead of one receive (and one switch) each.

// Drain moves into dst, oldest first, the values that len(dst) receives
// would take now: the buffered ones, then those of blocked senders, a
// sender's value going into the buffer as a place frees, so the order is
// that of the sends. It stops after a Bomb (the last value moved). Every
// sender whose value it took is appended to woke, in the order they
// blocked, for the caller to wake. It returns how many values it moved and
// woke.
func (c *Channel) Drain(dst []any, woke []Waiter) (int, []Waiter) {
	m := c.more
	if m == nil {
		return 0, woke
	}
	n := 0
	for n < len(dst) {
		k := m.popBuf(dst[n:])
		if k == 0 { // nothing buffered: straight from the next sender
			var w Waiter
			if !m.send.take(&w) {
				break
			}
			dst[n], k = w.Offered(), 1
			woke = append(woke, w)
		} else {
			woke = m.refill(k, woke)
		}
		n += k
		if _, bomb := dst[n-1].(Bomb); bomb {
			break
		}
	}
	return n, woke
}

// refill moves the values of up to k blocked senders into the buffer, which
// has room for them, appending the senders to woke: what k receives that
// took buffered values do after each take. Local plain senders, the common
// case, are taken in a loop over locals; anything else (a posted value, a
// remote or stale entry) goes through take.
func (m *waits) refill(k int, woke []Waiter) []Waiter {
	q, r := &m.send, &m.buf
	for k > 0 && q.live > 0 {
		nq := len(q.ts)
		if q.vals == nil || len(q.seqs) != nq || !q.liveAt(int(q.head)) || q.ts[q.head] == nil {
			var w Waiter
			if !q.take(&w) {
				break
			}
			r.pushBack(w.Offered())
			woke = append(woke, w)
			k--
			continue
		}
		qt, qs, qv, qmask := q.ts, q.seqs, q.vals, nq-1
		rb, rmask := r.buf, len(r.buf)-1
		head, tail := int(q.head), (r.head+r.len)&rmask
		n := 0
		for lim := min(k, int(q.live)); n < lim; {
			t, seq := qt[head], qs[head]
			if t == nil || waitSeq(t) != seq {
				break
			}
			v := qv[head]
			qt[head], qv[head] = nil, nil
			rb[tail] = v
			woke = append(woke, Waiter{T: t, Seq: seq, Case: -1, Value: v})
			head, tail = (head+1)&qmask, (tail+1)&rmask
			n++
		}
		q.head, q.len, q.live = int32(head), q.len-int32(n), q.live-int32(n)
		r.len += n
		k -= n
	}
	return woke
}

// popBuf moves buffered values, oldest first, into dst until dst is full,
// the buffer is empty or a Bomb was moved (the last one moved), and returns
// how many it moved: two copies and a scan for the Bomb.
func (m *waits) popBuf(dst []any) int {
	r := &m.buf
	k := min(len(dst), r.len)
	if k == 0 {
		return 0
	}
	n := copy(dst[:k], r.buf[r.head:])
	copy(dst[n:k], r.buf)
	for i, v := range dst[:k] {
		if _, bomb := v.(Bomb); bomb {
			clear(dst[i+1 : k]) // still buffered
			k = i + 1
			break
		}
	}
	if end := r.head + k; end <= len(r.buf) {
		clear(r.buf[r.head:end])
	} else {
		clear(r.buf[r.head:])
		clear(r.buf[:end-len(r.buf)])
	}
	r.head = (r.head + k) & (len(r.buf) - 1) // the length is a power of two (grow doubles from 1)
	r.len -= k
	return k
}
