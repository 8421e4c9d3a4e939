package scheduler

// timerHeap is a binary min-heap by (at, seq), like container/heap without
// the interface calls. It holds the timers due soonest.
type timerHeap struct{ h []timer }

func (th *timerHeap) len() int     { return len(th.h) }
func (th *timerHeap) peek() *timer { return &th.h[0] }

func (th *timerHeap) push(tm timer) {
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
