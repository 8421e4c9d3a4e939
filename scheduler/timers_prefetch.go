package scheduler

import (
	"unsafe"

	"github.com/stackless-go/stackless/tasklet"
)

// The cost of a firing among a million sleepers is not the wheel but memory:
// the woken tasklet's record and behavior are nowhere near a cache, and each
// is a miss of a few hundred cycles. So as a large window fires, each pop
// asks for the memory of the tasklets due a little later with prefetch
// instructions, which do not wait: it arrives while the tasklets before
// them run. Where a behavior is needs the record, so that goes in two
// stages: the record of the timer 2*aheadTimers on, the behavior of the one
// aheadTimers on (whose record was asked for aheadTimers pops ago).

// aheadTimers is how far ahead a stage asks: enough that the memory of the
// last arrives before the first of them runs.
const aheadTimers = 16

// prefetchFrom is the smallest window that prefetches: a window holds the
// timers of 4.2 ms, so a smaller one means fewer than ~15,000 sleepers a
// second, whose records and behaviors stay in the caches; asking for them
// cost a fifth of a firing with 1,000 sleepers.
var prefetchFrom = 64

// prefetchAhead asks, as win[i] fires, for the behavior of the timer
// aheadTimers on and for the record of the one 2*aheadTimers on: three
// lines (a record may straddle two) a pop, straight from the window.
func (w *timerWheel) prefetchAhead(i int) {
	if j := i + 2*aheadTimers; j < len(w.win) {
		r := uintptr(unsafe.Pointer(w.win[j].t))
		prefetch3(behaviorAddr(w.win[i+aheadTimers].t), r, r+unsafe.Sizeof(coreRec{})-1)
	} else if j := i + aheadTimers; j < len(w.win) {
		b := behaviorAddr(w.win[j].t)
		prefetch3(b, b, b)
	}
}

// prefetchStart asks for the memory of the first timers of a new window,
// those the pops do not ask for: the records of the first 2*aheadTimers,
// then the behaviors of the first aheadTimers (a loop of independent loads
// of their records).
func (w *timerWheel) prefetchStart() {
	var pre [4 * aheadTimers]uintptr
	k := 0
	for _, tm := range w.win[:min(len(w.win), 2*aheadTimers)] {
		a := uintptr(unsafe.Pointer(tm.t))
		pre[k], pre[k+1] = a, a+unsafe.Sizeof(coreRec{})-1
		k += 2
	}
	prefetchLines(&pre[0], k)
	k = 0
	for _, tm := range w.win[:min(len(w.win), aheadTimers)] {
		pre[k] = behaviorAddr(tm.t)
		k++
	}
	prefetchLines(&pre[0], k)
}

// behaviorAddr is where r's behavior is: the data word of the interface.
func behaviorAddr(r *rec) uintptr {
	b := r.c().Behavior()
	return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&b))[1])
}

// warmTimers reads, for timers about to fire together, what waking their
// tasklets reads one after another: each record and behavior, then for a
// select's timeout the cases and the channels whose waiter queues it leaves.
// Each pass is a loop of independent loads, which the processor overlaps.
func (s *Scheduler) warmTimers(due []timer) {
	var n uintptr
	for i := range due {
		n += due[i].t.c().Touch() + uintptr(due[i].t.c().WaitSeq())
	}
	for i := range due {
		if due[i].idx >= 0 {
			if cs := due[i].t.SelectCases(); len(cs) > 0 {
				n += uintptr(cs[0].Chan)
			}
		}
	}
	for i := range due {
		if due[i].idx < 0 || !due[i].live() {
			continue
		}
		for _, cs := range due[i].t.SelectCases() {
			if cs.Dir == tasklet.DirRecv || cs.Dir == tasklet.DirSend {
				if c := s.chans.get(uint64(cs.Chan)); c != nil {
					n += uintptr(c.Balance())
				}
			}
		}
	}
	s.timers.warmed += n
}
