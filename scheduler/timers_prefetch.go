package scheduler

import (
	"unsafe"

	"github.com/stackless-go/stackless/tasklet"
)

// The cost of a firing among a million sleepers is not the wheel but memory:
// the woken tasklet's record and behavior are nowhere near a cache, and each
// is a miss of a few hundred cycles. So when a level-0 slot goes into the
// heap, the wheel asks for the memory of the tasklets due after it with
// prefetch instructions, which do not wait: it arrives while the tasklets
// before them run. Where a behavior is needs the record, so that goes in two
// stages: the records of the timers two groups ahead, the behaviors of the
// group ahead (whose records were asked for last time).

// aheadTimers is how many timers a stage keeps ahead of the slot going
// into the heap: enough that the memory of the last arrives before the
// first of them runs, with slots of one or two timers (100,000 sleepers)
// as with dozens (a million).
const aheadTimers = 16

// prefetchFrom is how many timers the wheel holds before it prefetches:
// the records and behaviors of fewer tasklets stay in the caches, and
// asking for them costs a fifth of a firing (with 1,000 sleepers).
var prefetchFrom = 16384

// prefetchMax bounds the addresses asked for at once.
const prefetchMax = 128

// prefetcher remembers how far ahead each stage has asked, so that each
// timer is asked for once per stage. The cursors are level-0 slots of one
// rotation of level 0; a new rotation starts them again.
type prefetcher struct {
	rot        uint64 // the rotation: horizon >> (wheelGrain + wheelBits)
	beh, rec   int    // the last slot asked for by each stage
	behN, recN int    // the timers asked for after the slot going into the heap
	pre        [prefetchMax]uintptr
	k          int
}

// prefetchAhead is called as level-0 slot s, holding n timers, goes into
// the heap: it asks for the behaviors of the next aheadTimers timers and
// for the records of the aheadTimers after those.
func (w *timerWheel) prefetchAhead(s uint64, n int) {
	if w.pf == nil {
		w.pf = new(prefetcher)
		w.pf.rot = ^uint64(0)
	}
	p := w.pf
	if rot := uint64(w.horizon) >> (wheelGrain + wheelBits); rot != p.rot {
		p.rot, p.beh, p.rec, p.behN, p.recN = rot, int(s), int(s), 0, 0
	} else {
		p.behN, p.beh = ahead(p.behN, p.beh, int(s), n)
		p.recN, p.rec = ahead(p.recN, p.rec, int(s), n)
	}
	for p.recN < 2*aheadTimers {
		slot := w.nextOcc(0, uint64(p.rec+1))
		if slot < 0 {
			break
		}
		p.rec = slot
		p.recN += w.askFor(slot, false)
	}
	for p.behN < aheadTimers && p.beh < p.rec {
		slot := w.nextOcc(0, uint64(p.beh+1))
		if slot < 0 {
			break
		}
		p.beh = slot
		p.behN += w.askFor(slot, true)
	}
	w.flushPrefetch()
}

// ahead is a stage's count and cursor once slot s of n timers is taken out.
func ahead(count, cursor, s, n int) (int, int) {
	if s > cursor {
		return 0, s
	}
	return max(count-n, 0), cursor
}

// askFor queues the records (or behaviors) of the timers of level-0 slot
// slot and returns how many timers it holds.
func (w *timerWheel) askFor(slot int, behaviors bool) int {
	p, n := w.pf, 0
	for c := w.slots[0][slot].head; c != 0; c = w.chunks[c].next {
		ch := &w.chunks[c]
		for i := range ch.n {
			if p.k+2 > prefetchMax {
				w.flushPrefetch()
			}
			r := ch.tm[i].t
			if behaviors {
				p.pre[p.k] = behaviorAddr(r)
				p.k++
				continue
			}
			a := uintptr(unsafe.Pointer(r))
			p.pre[p.k], p.pre[p.k+1] = a, a+unsafe.Sizeof(coreRec{})-1 // a record may straddle two lines
			p.k += 2
		}
		n += int(ch.n)
	}
	return n
}

func (w *timerWheel) flushPrefetch() {
	if p := w.pf; p.k > 0 {
		prefetchLines(&p.pre[0], p.k)
		p.k = 0
	}
}

// behaviorAddr is where r's behavior is: the data word of the interface.
func behaviorAddr(r *rec) uintptr {
	b := r.c().Behavior()
	return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&b))[1])
}

// count is how many timers list l holds.
func (w *timerWheel) count(l chunkList) int {
	n := 0
	for c := l.head; c != 0; c = w.chunks[c].next {
		n += int(w.chunks[c].n)
	}
	return n
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
