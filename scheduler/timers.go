package scheduler

import (
	"math/bits"
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

// The timers are a hierarchical timing wheel in front of a sorted window,
// because a binary heap of every timer costs a cache miss per level at each
// firing (over a microsecond with 100,000 sleepers), while the wheel files a
// timer in O(1) and moves it only once or twice before it fires.
//
// Level l (1 to wheelLevels-1) has 1,024 slots of 2^(wheelGrain+10l) ns
// each: a level-1 slot spans 4.2 ms, a level-2 slot 4.3 s. A timer is filed at
// the lowest level whose slot still tells it apart from the wheel's time
// (horizon): the highest bit in which its deadline and horizon differ picks
// the level (level 1 at least), the deadline's bits at that level the slot.
// Timers of a lower level are therefore always due before those of a higher
// one. When nothing is left to fire, the earliest occupied slot (found in
// each level's bitmap of occupied slots) is taken out: a higher slot is
// filed again, one or more levels lower; a level-1 slot becomes the window,
// its timers sorted by (deadline, sequence) with a counting sort on the
// deadline's next bits and an insertion sort within each bucket. Timers set
// while a window fires and due before its end go into a small heap, merged
// with the window as they fire. Firing order is thus exactly that of one
// heap of all timers.
//
// A window instead of a level-0 wheel in front of a heap: with 100,000
// sleepers a 16 µs level-0 slot held one or two timers, so every timer cost
// a chunk of its own, a bit scan, a heap push and pop and a prefetch walk;
// sorting a window costs a few passes over an array, and popping it reads
// the next element.
//
// 1,024 slots a level rather than 256 because a timer whose deadline lies
// in the next level-2 slot is filed twice, and the level-2 slot's chunks
// are read back from memory when it is taken out: with sleeps of up to a
// second and 256 slots (level-2 slots of 1.07 s) that was half of them,
// with 1,024 it is an eighth. The slots take 96 KiB, once timers are set.
const (
	wheelBits   = 10
	wheelSlots  = 1 << wheelBits
	wheelWords  = wheelSlots / 64
	wheelGrain  = 12
	wheelLevels = (63 - wheelGrain + wheelBits) / wheelBits
	windowShift = wheelGrain + wheelBits // a window is a level-1 slot: 2^22 ns
)

// timerWheel holds the pending timers. Invariants: every timer in win[wi:]
// and in due is earlier than dueEnd, and every timer in the slots is at or
// after both dueEnd and horizon; a timer of level l lies in a slot at or
// after horizon's slot at that level.
//
// A slot is a list of fixed-size chunks from one pool, not a slice of its
// own: a slice per slot would keep the capacity of its fullest moment, and
// across the slots that is many times the timers held.
type timerWheel struct {
	due     timerHeap                           // timers due before dueEnd set after the window was made
	win     []timer                             // the window: one level-1 slot's timers in firing order
	wi      int                                 // the next timer of win to fire
	used    int                                 // win's array holds timers (fired ones) up to here
	counts  []int32                             // the bucket sort's
	dueEnd  time.Duration                       // the end of the window
	horizon time.Duration                       // the start of a slot: the wheel's time
	n       int                                 // timers in the slots
	limit   int                                 // sweep stale timers when this many are held
	occ     [wheelLevels][wheelWords]uint64     // the occupied slots, a bit each
	slots   *[wheelLevels][wheelSlots]chunkList // made by the first file: 96 KiB a Scheduler without timers need not carry
	chunks  []timerChunk                        // chunks[0] is never used: index 0 means none
	next    []int32                             // next[c] follows chunk c in its list or in the free pool
	free    int32                               // the first free chunk
	batch   []timer                             // popDue's
	warmed  uintptr                             // keeps warmTimers' loads
}

// chunkLen timers make a chunk: 1 KiB, sequential to walk. A chunk is
// only timers, so that in the pool's array each starts a cache line and no
// timer straddles two; the links are in next, the counts in the list.
const chunkLen = 32

type timerChunk [chunkLen]timer

// chunkList is a slot: its chunks, all full but the tail, and its counts,
// kept here so that filing a timer touches only the line it writes (the
// slot being in the small array every filing reads), and taking a slot out
// knows its size without walking it (a cache miss per chunk among a
// million sleepers).
type chunkList struct {
	head, tail int32
	tailN      int32 // timers in the tail chunk
	n          int32 // timers in the list
}

// lenOf is the number of timers in chunk c of list l.
func (l *chunkList) lenOf(c int32) int {
	if c == l.tail {
		return int(l.tailN)
	}
	return chunkLen
}

// len is the number of timers held, stale ones not yet dropped included.
func (w *timerWheel) len() int { return w.n + w.due.len() + len(w.win) - w.wi }

// push adds tm. Timers that went stale (a select's timeout after another
// case fired, a killed sleeper) stay until they come up to fire, so before
// the wheel would hold twice what it held after the last sweep it drops
// them: it stays proportional to the live timers, at an amortized O(1) per
// push.
func (w *timerWheel) push(tm timer) {
	if w.len() < w.limit {
		w.file(tm)
		return
	}
	w.sweep()
	w.file(tm)
}

// file puts tm into the heap or its slot. It runs twice or more per timer
// (set, then moved down a level or two), so the common case, a slot whose
// last chunk has room, is a straight path without calls (which would make
// the compiler keep tm on the stack); the rest is fileSlow.
func (w *timerWheel) file(tm timer) {
	if tm.at >= w.dueEnd && tm.at >= w.horizon && w.slots != nil {
		lvl, slot := w.slotOf(tm.at)
		l := &w.slots[lvl][slot]
		if n := uint(l.tailN); l.tail != 0 && n < chunkLen { // occupied: its bit is set
			// Field by field: a copy of the whole timer, which holds a
			// pointer, goes through the stack for its write barrier and
			// reads tm back 16 bytes at a time from the 8-byte stores
			// that put it there, which waits for every older store.
			d := &w.chunks[l.tail][n]
			d.at, d.seq, d.t, d.wait, d.idx = tm.at, tm.seq, tm.t, tm.wait, tm.idx
			l.tailN++
			l.n++
			w.n++
			return
		}
	}
	w.fileSlow(tm)
}

// fileSlow is file into the heap, a slot without chunks or one whose last
// chunk is full.
func (w *timerWheel) fileSlow(tm timer) {
	if tm.at < w.dueEnd || tm.at < w.horizon {
		w.due.push(tm)
		return
	}
	if w.slots == nil {
		w.slots = new([wheelLevels][wheelSlots]chunkList)
	}
	lvl, slot := w.slotOf(tm.at)
	w.n++
	l := &w.slots[lvl][slot]
	if l.tail != 0 && l.tailN < chunkLen { // the slots were just made
		w.chunks[l.tail][l.tailN] = tm
		l.tailN++
		l.n++
		return
	}
	w.appendSlow(l, tm)
	w.occ[lvl][slot/64] |= 1 << (slot % 64)
}

// slotOf is where a timer due at at is filed: the lowest level whose slot
// still tells it apart from the horizon (level 1 at least), and the slot.
func (w *timerWheel) slotOf(at time.Duration) (lvl, slot uint) {
	lvl = 1
	if x := uint64(at^w.horizon) >> windowShift; x != 0 {
		lvl = uint(bits.Len64(x)+wheelBits-1) / wheelBits
	}
	return lvl, uint(uint64(at)>>(wheelGrain+wheelBits*lvl)) & (wheelSlots - 1)
}

// appendSlow adds tm at the end of list l, whose last chunk is full or
// which has none.
func (w *timerWheel) appendSlow(l *chunkList, tm timer) {
	nc := w.newChunk()
	if l.tail == 0 {
		l.head = nc
	} else {
		w.next[l.tail] = nc
	}
	l.tail = nc
	w.chunks[nc][0] = tm
	l.tailN = 1
	l.n++
}

func (w *timerWheel) newChunk() int32 {
	if c := w.free; c != 0 {
		w.free = w.next[c]
		w.next[c] = 0
		return c
	}
	if len(w.chunks) == 0 {
		w.chunks, w.next = make([]timerChunk, 1, 16), make([]int32, 1, 16)
	}
	w.chunks = append(w.chunks, timerChunk{})
	w.next = append(w.next, 0)
	return int32(len(w.chunks) - 1)
}

// freeChunk returns chunk c, which held n timers, emptied, to the pool.
func (w *timerWheel) freeChunk(c int32, n int) {
	clear(w.chunks[c][:n]) // let finished tasklets go
	w.next[c] = w.free
	w.free = c
}

// first returns the earliest timer (by deadline, then sequence), stale or
// not, or nil when there is none.
func (w *timerWheel) first() *timer {
	for {
		if w.wi < len(w.win) {
			tm := &w.win[w.wi]
			if w.due.len() != 0 && w.due.peek().before(tm) {
				return w.due.peek()
			}
			return tm
		}
		if len(w.win) != 0 { // done: the next window overwrites it (fillWindow)
			w.used = max(w.used, len(w.win))
			w.win, w.wi = w.win[:0], 0
		}
		if w.due.len() != 0 {
			return w.due.peek()
		}
		if w.n == 0 { // no next window: let its finished tasklets go
			clear(w.win[:w.used])
			w.used = 0
			return nil
		}
		w.advance()
	}
}

// head is first, with its common case inlined: the window's next timer,
// no timer having been set into it since it was made.
func (w *timerWheel) head() *timer {
	if i := w.wi; i < len(w.win) && len(w.due.h) == 0 {
		return &w.win[i]
	}
	return w.first()
}

// pop removes the timer first returned. Popping from a large window asks
// for the memory of the tasklets due a little later (timers_prefetch.go).
func (w *timerWheel) pop() timer {
	if i := w.wi; i < len(w.win) && (w.due.len() == 0 || !w.due.peek().before(&w.win[i])) {
		tm := w.win[i] // its tasklet is let go when the window is done (first)
		w.took(i)
		return tm
	}
	return w.due.pop()
}

// took moves past win[i], which fires.
func (w *timerWheel) took(i int) {
	w.wi = i + 1
	if i%prefetchGroup == 0 && len(w.win) >= prefetchFrom {
		w.prefetchAhead(i)
	}
}

// popDue removes every timer due at now, stale ones included, and appends
// them to b in firing order; b is w.batch's array, which the next call
// reuses.
func (w *timerWheel) popDue(b []timer, now time.Duration) []timer {
	for tm := w.first(); tm != nil && tm.at <= now; tm = w.first() {
		b = append(b, w.pop())
	}
	w.batch = b
	return b
}

// advance takes the earliest occupied slot out of the wheel: a level-1 slot
// becomes the window, a higher one is filed again lower. The window and due
// are empty. Stale timers are not dropped here: checking one reads its
// tasklet's record, a cache miss with many tasklets; they are dropped as
// they come up to fire, when the prefetch has asked for their records.
func (w *timerWheel) advance() {
	for lvl := 1; lvl < wheelLevels; lvl++ {
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
		w.horizon = max(w.horizon, start)
		if lvl == 1 {
			w.dueEnd = start + 1<<windowShift
			w.fillWindow(l)
			return
		}
		w.dueEnd = max(w.dueEnd, w.horizon)
		w.n -= int(l.n)
		// Indexes, not pointers: filing may grow the pool and move it.
		for c := l.head; c != 0; {
			next := w.next[c]
			n := l.lenOf(c)
			for i := range n {
				w.file(w.chunks[c][i])
			}
			w.freeChunk(c, n)
			c = next
		}
		return
	}
}

// fillWindow makes list l, a level-1 slot taken out, the window, in firing
// order, and frees its chunks.
func (w *timerWheel) fillWindow(l chunkList) {
	n := int(l.n)
	w.n -= n
	dst := slices.Grow(w.win[:0], n)[:n]
	if n > insertionMax {
		w.bucketSort(dst, l)
	} else {
		k := 0
		for c := l.head; c != 0; c = w.next[c] {
			k += copy(dst[k:], w.chunks[c][:l.lenOf(c)])
		}
	}
	for c := l.head; c != 0; {
		next := w.next[c]
		w.freeChunk(c, l.lenOf(c))
		c = next
	}
	insertionSort(dst)
	// The fired timers of the last window are overwritten, not cleared
	// first (a write of every line of the window, again); those past the
	// new one are cleared to let their finished tasklets go.
	if cap(dst) == cap(w.win) && w.used > n {
		clear(dst[n:w.used])
	}
	w.used = 0
	w.win, w.wi = dst, 0
	if n >= prefetchFrom {
		w.prefetchStart()
	}
}

// insertionMax is the most timers a window sorts by insertion alone.
const insertionMax = 16

// Bucket sort: a window of n timers is spread over about n buckets (a power
// of two, 2^minBucketBits to 2^maxBucketBits), so the insertion sort after
// it moves each timer past one or two of its own bucket at most.
const (
	minBucketBits = 8
	maxBucketBits = 13 // 8,192 buckets of 512 ns; the counts take 32 KiB
)

// bucketSort fills dst, len(dst) timers, with those of list l ordered by
// their bucket within the window (a counting sort); the order within a
// bucket is the list's.
func (w *timerWheel) bucketSort(dst []timer, l chunkList) {
	nb := min(max(bits.Len(uint(len(dst))), minBucketBits), maxBucketBits)
	shift, mask := uint(windowShift-nb), uint64(1)<<nb-1
	if len(w.counts) < 1<<nb+1 {
		w.counts = make([]int32, 1<<nb+1)
	}
	start := w.counts[:1<<nb+1]
	clear(start)
	// The chunks were filled up to a second ago and are read back from
	// memory, each on a page of its own: ask for the one after next while
	// counting this one.
	if l.head != 0 {
		w.prefetchChunk(w.next[l.head])
	}
	for c := l.head; c != 0; c = w.next[c] {
		if nx := w.next[c]; nx != 0 {
			w.prefetchChunk(w.next[nx])
		}
		ch := &w.chunks[c]
		for i := range l.lenOf(c) {
			start[uint64(ch[i].at)>>shift&mask+1]++
		}
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	for c := l.head; c != 0; c = w.next[c] {
		ch := &w.chunks[c]
		for i := range l.lenOf(c) {
			b := uint64(ch[i].at) >> shift & mask
			dst[start[b]] = ch[i]
			start[b]++
		}
	}
}

// insertionSort orders tms by (deadline, sequence). They come bucket by
// bucket, so each moves only past the few of its own bucket.
func insertionSort(tms []timer) {
	for i := 1; i < len(tms); i++ {
		if !tms[i].before(&tms[i-1]) {
			continue
		}
		tm := tms[i]
		j := i
		for ; j > 0 && tm.before(&tms[j-1]); j-- {
			tms[j] = tms[j-1]
		}
		tms[j] = tm
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
	live := w.win[:w.wi]
	for _, tm := range w.win[w.wi:] {
		if tm.live() {
			live = append(live, tm)
		}
	}
	clear(w.win[len(live):])
	w.win = live
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
	old := *l // the counts of the chunks as they were
	wc, wi, kept := l.head, int32(0), 0
	for c := l.head; c != 0; c = w.next[c] {
		ch := &w.chunks[c]
		for i := range old.lenOf(c) {
			tm := ch[i]
			if !tm.live() {
				continue
			}
			if wi == chunkLen {
				wc, wi = w.next[wc], 0
			}
			w.chunks[wc][wi] = tm
			wi++
			kept++
		}
	}
	w.n -= int(old.n) - kept
	// Chunks before wc are full; wc holds wi; the rest go back to the pool.
	rest := l.head
	if kept != 0 {
		clear(w.chunks[wc][wi:old.lenOf(wc)])
		rest = w.next[wc]
		w.next[wc] = 0
		l.tail, l.tailN, l.n = wc, wi, int32(kept)
	} else {
		*l = chunkList{}
	}
	for rest != 0 {
		next := w.next[rest]
		w.freeChunk(rest, old.lenOf(rest))
		rest = next
	}
	return kept
}

// each calls fn for every timer held, stale ones included, in no order.
func (w *timerWheel) each(fn func(*timer)) {
	for i := range w.due.h {
		fn(&w.due.h[i])
	}
	for i := w.wi; i < len(w.win); i++ {
		fn(&w.win[i])
	}
	if w.slots == nil {
		return
	}
	for lvl := range w.slots {
		for s := range w.slots[lvl] {
			l := &w.slots[lvl][s]
			for c := l.head; c != 0; c = w.next[c] {
				for i := range l.lenOf(c) {
					fn(&w.chunks[c][i])
				}
			}
		}
	}
}
