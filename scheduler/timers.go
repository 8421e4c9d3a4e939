package scheduler

import (
	"slices"
	"time"
)

// timer wakes a sleeping tasklet, or fires a select's timeout case (idx >= 0).
// It is stale, and ignored, once the tasklet's wait moved on.
type timer struct {
	at   time.Duration
	seq  uint64 // ties fire in the order the timers were set
	t    *rec
	wait uint32
	idx  int32
}

func (tm *timer) live() bool { return tm.t.WaitSeq() == tm.wait && tm.t.State().Alive() }

func (a *timer) before(b *timer) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// timerHeap is a binary min-heap by (at, seq), like container/heap without
// the interface calls.
type timerHeap struct{ h []timer }

func (th *timerHeap) len() int     { return len(th.h) }
func (th *timerHeap) peek() *timer { return &th.h[0] }

// push adds tm. Timers that went stale (a select's timeout after another
// case fired, a killed sleeper) stay in the heap until they reach its top,
// so before the heap would grow it drops them: the heap stays proportional
// to the live timers, at an amortized O(1) per push.
func (th *timerHeap) push(tm timer) {
	if n := len(th.h); n > 0 && n == cap(th.h) {
		th.dropStale()
		if len(th.h) > n/2 {
			th.h = slices.Grow(th.h, n)
		}
	}
	th.h = append(th.h, tm)
	th.up(len(th.h) - 1)
}

// dropStale removes the timers that can no longer fire and restores the
// heap order.
func (th *timerHeap) dropStale() {
	h := th.h[:0]
	for _, tm := range th.h {
		if tm.live() {
			h = append(h, tm)
		}
	}
	clear(th.h[len(h):])
	th.h = h
	for i := len(h)/2 - 1; i >= 0; i-- {
		th.down(i)
	}
}

func (th *timerHeap) pop() timer {
	h := th.h
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = timer{}
	th.h = h[:n]
	if n > 0 {
		th.down(0)
	}
	return top
}

func (th *timerHeap) up(i int) {
	h := th.h
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (th *timerHeap) down(i int) {
	h := th.h
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
