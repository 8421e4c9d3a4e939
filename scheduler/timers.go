package scheduler

import (
	"math/bits"
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

// The timers are a hierarchical timing wheel in front of a small heap,
// because a binary heap of every timer costs a cache miss per level at each
// firing (over a microsecond with 100,000 sleepers), while the wheel files a
// timer in O(1) and moves it only a few times before it fires.
//
// Level l has 256 slots of 2^(wheelGrain+8l) ns each. A timer is filed at
// the lowest level whose slot still tells it apart from the wheel's time
// (horizon): the highest bit in which its deadline and horizon differ picks
// the level, the deadline's bits at that level the slot. Timers of a lower
// level are therefore always due before those of a higher one. When nothing
// is due in the heap, the earliest occupied slot (found with one bit scan per
// level) is taken out: a level-0 slot goes into the heap, which orders its
// timers exactly by (deadline, sequence); a higher slot is filed again, one
// or more levels lower. Firing order is thus exactly that of one heap of all
// timers.
//
// The sizes are what measured fastest with 100,000 and 1,000,000 sleepers:
// 256 slots a level, so a sleep of up to a second is filed at level 1 and
// moved only once before it goes into the heap (with 64 slots it moved
// twice), and 16 µs level-0 slots, so the heap holds a few timers at a time
// (~16 with a million sleepers) instead of dozens.
const (
	wheelBits   = 8
	wheelSlots  = 1 << wheelBits
	wheelWords  = wheelSlots / 64
	wheelGrain  = 14 // a level-0 slot is 2^14 ns (16.4 µs)
	wheelLevels = (63 - wheelGrain + wheelBits) / wheelBits
)

// timerWheel holds the pending timers. Invariants: every timer in due is
// earlier than dueEnd, and every timer in the slots is at or after both
// dueEnd and horizon; a timer of level l >= 1 lies in a slot after
// horizon's slot at that level.
//
// A slot is a list of fixed-size chunks from one pool, not a slice of its
// own: a slice per slot would keep the capacity of its fullest moment, and
// across 512 slots that is many times the timers held.
type timerWheel struct {
	due     timerHeap
	dueEnd  time.Duration
	horizon time.Duration                       // the start of a slot: the wheel's time
	n       int                                 // timers in the slots
	limit   int                                 // sweep stale timers when this many are held
	occ     [wheelLevels][wheelWords]uint64     // the occupied slots, a bit each
	slots   *[wheelLevels][wheelSlots]chunkList // made by the first file: 14 KiB a Scheduler without timers need not carry
	chunks  []timerChunk                        // chunks[0] is never used: index 0 means none
	free    int32                               // the first free chunk
	pf      *prefetcher                         // made by the first level-0 slot taken out
	batch   []timer                             // popDue's
	warmed  uintptr                             // keeps warmTimers' loads
}

// chunkLen timers make a chunk: 1 KiB, sequential to walk.
const chunkLen = 32

type timerChunk struct {
	tm   [chunkLen]timer
	n    int32
	next int32
}

type chunkList struct{ head, tail int32 }

// len is the number of timers held, stale ones not yet dropped included.
func (w *timerWheel) len() int { return w.n + w.due.len() }

// push adds tm. Timers that went stale (a select's timeout after another
// case fired, a killed sleeper) stay until their slot is taken out, so
// before the wheel would hold twice what it held after the last sweep it
// drops them: it stays proportional to the live timers, at an amortized O(1)
// per push.
func (w *timerWheel) push(tm timer) {
	if w.len() >= w.limit {
		w.sweep()
	}
	w.file(tm)
}

// file puts tm into the heap or its slot. It runs twice or more per timer
// (set, then moved down a level or two), so the common case, a slot whose
// last chunk has room, is a straight path; the rest is appendSlow.
func (w *timerWheel) file(tm timer) {
	if tm.at < w.dueEnd || tm.at < w.horizon {
		w.due.push(tm)
		return
	}
	lvl := uint(0)
	if x := uint64(tm.at^w.horizon) >> wheelGrain; x != 0 {
		lvl = uint(bits.Len64(x)-1) / wheelBits
	}
	slot := uint(uint64(tm.at)>>(wheelGrain+wheelBits*lvl)) & (wheelSlots - 1)
	if w.slots == nil {
		w.slots = new([wheelLevels][wheelSlots]chunkList)
	}
	w.n++
	l := &w.slots[lvl][slot]
	if c := l.tail; c != 0 { // occupied: its bit is set
		ch := &w.chunks[c]
		if n := uint(ch.n); n < chunkLen {
			ch.tm[n] = tm
			ch.n++
			return
		}
	}
	w.appendSlow(l, tm)
	w.occ[lvl][slot/64] |= 1 << (slot % 64)
}

// appendSlow adds tm at the end of list l, whose last chunk is full or
// which has none.
func (w *timerWheel) appendSlow(l *chunkList, tm timer) {
	nc := w.newChunk()
	if l.tail == 0 {
		l.head = nc
	} else {
		w.chunks[l.tail].next = nc
	}
	l.tail = nc
	ch := &w.chunks[nc]
	ch.tm[0] = tm
	ch.n = 1
}

func (w *timerWheel) newChunk() int32 {
	if c := w.free; c != 0 {
		w.free = w.chunks[c].next
		w.chunks[c].next = 0
		return c
	}
	if len(w.chunks) == 0 {
		w.chunks = make([]timerChunk, 1, 16)
	}
	w.chunks = append(w.chunks, timerChunk{})
	return int32(len(w.chunks) - 1)
}

// freeChunk returns chunk c, emptied, to the pool.
func (w *timerWheel) freeChunk(c int32) {
	ch := &w.chunks[c]
	for i := range ch.n { // let finished tasklets go (clear's memclr costs more for the few a slot holds)
		ch.tm[i].t = nil
	}
	ch.n, ch.next = 0, w.free
	w.free = c
}

// first returns the earliest timer (by deadline, then sequence), stale or
// not, or nil when there is none.
func (w *timerWheel) first() *timer {
	for w.due.len() == 0 {
		if w.n == 0 {
			return nil
		}
		w.advance()
	}
	return w.due.peek()
}

// pop removes the timer first returned.
func (w *timerWheel) pop() timer { return w.due.pop() }

// popDue removes every timer due at now, stale ones included, and returns
// them in firing order, in a buffer the next call reuses.
func (w *timerWheel) popDue(now time.Duration) []timer {
	b := w.batch[:0]
	for tm := w.first(); tm != nil && tm.at <= now; tm = w.first() {
		b = append(b, w.pop())
	}
	w.batch = b
	return b
}

// advance takes the earliest occupied slot out of the wheel; due is empty.
// Stale timers are dropped when a level-0 slot goes into the heap, not
// before: checking one reads its tasklet's record, a cache miss with many
// tasklets, unless prefetchAhead asked for it while the tasklets before it
// ran, as it does here for the slots after this one.
func (w *timerWheel) advance() {
	for lvl := range wheelLevels {
		shift := uint(wheelGrain + wheelBits*lvl)
		pos := uint64(w.horizon) >> shift & (wheelSlots - 1)
		next := w.nextOcc(lvl, pos)
		if next < 0 {
			continue
		}
		slot := uint64(next)
		start := time.Duration(uint64(w.horizon)>>(shift+wheelBits)<<(shift+wheelBits) | slot<<shift)
		l := w.slots[lvl][slot]
		w.slots[lvl][slot] = chunkList{}
		w.occ[lvl][slot/64] &^= 1 << (slot % 64)
		if lvl == 0 && w.n >= prefetchFrom {
			w.prefetchAhead(slot, w.count(l))
		}
		w.horizon = max(w.horizon, start)
		if lvl == 0 {
			w.dueEnd = start + 1<<wheelGrain
		} else {
			w.dueEnd = max(w.dueEnd, w.horizon)
		}
		// Indexes, not pointers: filing may grow the pool and move it.
		for c := l.head; c != 0; {
			n := int(w.chunks[c].n)
			w.n -= n
			for i := range n {
				tm := &w.chunks[c].tm[i]
				switch {
				case lvl > 0:
					w.file(*tm)
				case tm.live():
					w.due.push(*tm)
				}
			}
			next := w.chunks[c].next
			w.freeChunk(c)
			c = next
		}
		return
	}
}

// nextOcc returns the first occupied slot of level lvl at or after pos, or
// -1 when there is none.
func (w *timerWheel) nextOcc(lvl int, pos uint64) int {
	if pos >= wheelSlots {
		return -1
	}
	i := pos / 64
	m := w.occ[lvl][i] &^ (1<<(pos%64) - 1)
	for m == 0 {
		if i++; i == wheelWords {
			return -1
		}
		m = w.occ[lvl][i]
	}
	return int(i*64) + bits.TrailingZeros64(m)
}

// sweep drops every stale timer.
func (w *timerWheel) sweep() {
	w.due.dropStale()
	for lvl := range wheelLevels {
		for s := range wheelSlots {
			if w.occ[lvl][s/64]&(1<<(s%64)) != 0 && w.compact(&w.slots[lvl][s]) == 0 {
				w.occ[lvl][s/64] &^= 1 << (s % 64)
			}
		}
	}
	w.limit = max(64, 2*w.len())
}

// compact drops the stale timers of list l, keeping the order of the rest,
// frees the chunks left empty and returns how many timers remain.
func (w *timerWheel) compact(l *chunkList) int {
	wc, wi, kept := l.head, int32(0), 0
	for c := l.head; c != 0; c = w.chunks[c].next {
		ch := &w.chunks[c]
		for i := range ch.n {
			tm := ch.tm[i]
			w.n--
			if !tm.live() {
				continue
			}
			if wi == chunkLen {
				wc, wi = w.chunks[wc].next, 0
			}
			w.chunks[wc].tm[wi] = tm
			wi++
			kept++
		}
	}
	if kept == 0 {
		wc = 0
	}
	// Chunks before wc are full; wc holds wi; the rest go back to the pool.
	rest := l.head
	if wc != 0 {
		clear(w.chunks[wc].tm[wi:w.chunks[wc].n])
		w.chunks[wc].n = wi
		rest = w.chunks[wc].next
		w.chunks[wc].next = 0
		l.tail = wc
	} else {
		*l = chunkList{}
	}
	for rest != 0 {
		next := w.chunks[rest].next
		w.freeChunk(rest)
		rest = next
	}
	w.n += kept
	return kept
}

// each calls fn for every timer held, stale ones included, in no order.
func (w *timerWheel) each(fn func(*timer)) {
	for i := range w.due.h {
		fn(&w.due.h[i])
	}
	if w.slots == nil {
		return
	}
	for lvl := range w.slots {
		for s := range w.slots[lvl] {
			for c := w.slots[lvl][s].head; c != 0; c = w.chunks[c].next {
				for i := range w.chunks[c].n {
					fn(&w.chunks[c].tm[i])
				}
			}
		}
	}
}
