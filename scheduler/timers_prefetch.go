package scheduler

import (
	"unsafe"

	"github.com/stackless-go/stackless/tasklet"
)

// The cost of a firing among a million sleepers is not the wheel but memory:
// the woken tasklet's record and behavior are nowhere near a cache, and each
// is a miss of a few hundred cycles. So as a large window fires, its pops
// ask for the memory of the tasklets due a little later with prefetch
// instructions, which do not wait for the data: it arrives while the
// tasklets before them run. Where a behavior is needs the record, so that
// goes in two stages: records 2*aheadTimers on, behaviors aheadTimers on
// (whose records were asked for aheadTimers pops before).
//
// They ask a group at a time, every prefetchGroup pops, not one record and
// one behavior a pop: among a million tasklets each line is also a TLB miss,
// and a prefetch waits at retirement for its page walk, as does the locked
// compare-and-swap that moves the clock for what is still in flight. One
// prefetch a pop paid a walk's latency at each firing (a quarter of the
// profile in the prefetch, a tenth at the clock's CAS); a group's walks
// overlap, and the pops between groups have none in flight (1,000,000
// sleepers: 84-112 -> 65-71 ns a firing; docs/benchmarks-history.md).

// aheadTimers is how far ahead a stage asks: enough that the memory of the
// last arrives before the first of them runs. A multiple of prefetchGroup,
// so that a group's behaviors are those whose records the group before
// asked for.
const aheadTimers = 16

// prefetchGroup is how many timers' records (and behaviors) one prefetch
// asks for at once.
const prefetchGroup = 16

// Compile-time: aheadTimers is a multiple of prefetchGroup, at least one.
var _ [0]struct{} = [aheadTimers % prefetchGroup]struct{}{}

const _ = uint(aheadTimers - prefetchGroup)

// prefetchFrom is the smallest window that prefetches: a window holds the
// timers of 4.2 ms, so a smaller one means fewer than ~15,000 sleepers a
// second, whose records and behaviors stay in the caches; asking for them
// cost a fifth of a firing with 1,000 sleepers.
var prefetchFrom = 64

// prefetchAhead asks, as win[i] fires (i a multiple of prefetchGroup), for
// the records of the prefetchGroup timers 2*aheadTimers on and the
// behaviors of those aheadTimers on: one line each (records are 64 bytes,
// aligned, in their blocks), straight from the window.
func (w *timerWheel) prefetchAhead(i int) {
	var pre [2 * prefetchGroup]uintptr
	k := 0
	for _, tm := range w.win[min(len(w.win), i+2*aheadTimers):min(len(w.win), i+2*aheadTimers+prefetchGroup)] {
		pre[k] = uintptr(unsafe.Pointer(tm.t))
		k++
	}
	for _, tm := range w.win[min(len(w.win), i+aheadTimers):min(len(w.win), i+aheadTimers+prefetchGroup)] {
		pre[k] = behaviorAddr(tm.t)
		k++
	}
	prefetchLines(&pre[0], k)
}

// prefetchStart asks for the memory of the first timers of a new window,
// those the pops do not ask for: the records of the first 2*aheadTimers,
// then the behaviors of the first aheadTimers (a loop of independent loads
// of their records).
func (w *timerWheel) prefetchStart() {
	var pre [2 * aheadTimers]uintptr
	k := 0
	for _, tm := range w.win[:min(len(w.win), 2*aheadTimers)] {
		pre[k] = uintptr(unsafe.Pointer(tm.t))
		k++
	}
	prefetchLines(&pre[0], k)
	k = 0
	for _, tm := range w.win[:min(len(w.win), aheadTimers)] {
		pre[k] = behaviorAddr(tm.t)
		k++
	}
	prefetchLines(&pre[0], k)
}

// prefetchChunk asks for chunk c of the pool, unless c is 0 (none).
func (w *timerWheel) prefetchChunk(c int32) {
	if c != 0 {
		prefetchSpan(uintptr(unsafe.Pointer(&w.chunks[c])), int(unsafe.Sizeof(timerChunk{})/64))
	}
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
