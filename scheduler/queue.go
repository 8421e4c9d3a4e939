package scheduler

import (
	"iter"
	"math"

	"github.com/stackless-go/stackless/internal/core"
)

// runQueue is a double-ended queue of tasklets: round robin at the back,
// and "runs at once" at the front. Its front part is a ring whose length is
// a power of two, so positions wrap with a mask; it grows by doubling up to
// ringMax. Past that, tasklets pushed at the back go to a spill of fixed
// chunks, and when the ring runs empty the spill's first chunk becomes the
// ring, with no copy. A world of a million runnable tasklets (Skynet's
// leaves) then fills chunks, reused as they empty, instead of doubling one
// array to 16 MiB: the doublings allocated and copied 32 MiB a tree, and
// each big array came fresh from the OS and was zeroed first.
//
// Ahead of both sits first: a tasklet queued at the back of an empty queue
// by a rendezvous (pushBehind), which a ping-pong's every switch does. It
// runs after the partner chosen to run next, and costs a field's store and
// load where the ring cost a slot's, its index and two counts: ping-pong
// runs 7% fewer instructions a value.
type runQueue struct {
	first *rec // the queue's front, ahead of the ring, or nil
	buf   []*rec
	head  int
	n     int // tasklets in the ring; drained tells whether the queue is empty
	lim   int // len(buf) while the spill is empty, else 0: room() is false
	// chunkRing: buf is a spill chunk the ring took over, which may pin a
	// big world's slab chunk; an empty queue's release drops it.
	chunkRing bool
	sp        spill
}

// ringMax is the longest the ring grows to (64 KiB); spillLen is the
// length of a spill chunk (8 KiB), a power of two so that a chunk can be
// the ring.
const (
	ringMax  = 8192
	spillLen = 1024
)

type spillChunk [spillLen]*rec

// spill is the back of a run queue past its ring: full chunks, then the
// last one, with room left at its end.
type spill struct {
	chunks []*spillChunk
	last   *spillChunk   // the last of chunks, or nil
	room   int           // free entries at the end of last: zero when last is nil
	free   []*spillChunk // chunks the ring was done with, for the next ones
	slab   core.Slab[spillChunk]
	build  func() int // the scheduler's block.Building
}

// maxFreeChunks bounds the chunks a spill keeps for reuse (128 KiB).
const maxFreeChunks = 16

// push is small enough to inline into pushBack: Skynet pushes a tasklet
// this way twice.
func (sp *spill) push(t *rec) {
	if sp.room == 0 {
		sp.addChunk()
	}
	sp.last[spillLen-sp.room] = t
	sp.room--
}

// addChunk starts a new last chunk: a kept one if there is one.
//
//go:noinline
func (sp *spill) addChunk() {
	var c *spillChunk
	if k := len(sp.free); k > 0 {
		c, sp.free = sp.free[k-1], sp.free[:k-1]
	} else {
		c = sp.slab.New(building(sp.build))
	}
	sp.chunks, sp.last, sp.room = append(sp.chunks, c), c, spillLen
}

// take removes the first chunk and reports how many tasklets it holds,
// from its start.
func (sp *spill) take() (*spillChunk, int) {
	c, k := sp.chunks[0], spillLen
	sp.chunks[0] = nil
	sp.chunks = sp.chunks[1:]
	if len(sp.chunks) == 0 {
		k, sp.room, sp.chunks, sp.last = spillLen-sp.room, 0, nil, nil
	}
	return c, k
}

// len is the number of tasklets in the spill: each chunk holds one or
// more (an emptied last chunk is dropped).
func (sp *spill) len() int { return len(sp.chunks)*spillLen - sp.room }

func (sp *spill) empty() bool { return len(sp.chunks) == 0 }

func (sp *spill) at(i int) *rec { return sp.chunks[i/spillLen][i%spillLen] }

func (sp *spill) set(i int, t *rec) { sp.chunks[i/spillLen][i%spillLen] = t }

// remove takes t out, keeping the order of the rest. O(n), searching
// from the back, where a shed takes the tasklets it moves away.
func (sp *spill) remove(t *rec) bool {
	n := sp.len()
	for i := n - 1; i >= 0; i-- {
		if sp.at(i) != t {
			continue
		}
		for j := i; j < n-1; j++ {
			sp.set(j, sp.at(j+1))
		}
		sp.set(n-1, nil)
		if sp.room++; sp.room == spillLen {
			last := len(sp.chunks) - 1
			sp.chunks[last] = nil
			sp.chunks, sp.last, sp.room = sp.chunks[:last], nil, 0
			if last > 0 {
				sp.last = sp.chunks[last-1] // full
			}
		}
		return true
	}
	return false
}

// grow stays out of line: inlined, it made pushBack and pushFront inline
// into the run loop and cost ping-pong 5 instructions a value there.
//
//go:noinline
func (q *runQueue) grow() {
	buf := make([]*rec, max(2*len(q.buf), minRunQueue))
	// Two bulk copies, not a store per element: a queue grows while a big
	// world is being spawned, when the collector is often marking and every
	// single pointer store would go through the write barrier.
	k := copy(buf[:q.n], q.buf[q.head:])
	copy(buf[k:q.n], q.buf)
	q.setRing(buf, 0)
}

// setRing makes buf the ring, its first tasklet at head; swapIn marks a
// spill chunk it makes the ring.
func (q *runQueue) setRing(buf []*rec, head int) {
	q.buf, q.head, q.lim, q.chunkRing = buf, head, 0, false
	if q.sp.empty() {
		q.lim = len(buf)
	}
}

// minRunQueue is the smallest array a run queue grows to.
const minRunQueue = 64

// keepRunQueue is the largest array (32 KiB) an empty run queue keeps: a
// program that runs a few thousand tasklets at a time and waits in between
// does not grow it again after every wait.
const keepRunQueue = 4096

// release drops the array of an empty queue that grew past keepRunQueue,
// and the spill's spare chunks: a world of blocked tasklets (idle actors
// waiting for input) should not keep the room it needed while they were
// all runnable, 8 bytes per tasklet.
func (q *runQueue) release() {
	if q.n != 0 || !q.sp.empty() || q.first != nil {
		return
	}
	if q.sp.free != nil {
		q.sp.free = nil
	}
	if len(q.buf) > keepRunQueue || q.chunkRing {
		q.setRing(nil, 0)
	}
}

// releaseChunks is release for a big world that ended: the rest of the
// spill's slab goes too.
func (q *runQueue) releaseChunks() {
	q.sp.slab = core.Slab[spillChunk]{}
	q.release()
}

// len is the number of tasklets queued.
func (q *runQueue) len() int {
	if q.first != nil {
		return 1 + q.n + q.sp.len()
	}
	return q.n + q.sp.len()
}

// at is the i-th tasklet from the front.
func (q *runQueue) at(i int) *rec {
	if q.first != nil {
		if i == 0 {
			return q.first
		}
		i--
	}
	if i >= q.n {
		return q.sp.at(i - q.n)
	}
	return q.ring(i)
}

// ring is the ring's i-th tasklet.
func (q *runQueue) ring(i int) *rec { return q.buf[(q.head+i)&(len(q.buf)-1)] }

// pushBack queues t at the back: in the ring while it has room, else the
// ring grows, or, at ringMax or behind a spill, the spill takes t.
func (q *runQueue) pushBack(t *rec) {
	if q.n < q.lim {
		q.storeBack(t)
		return
	}
	if q.sp.empty() && len(q.buf) < ringMax {
		q.grow()
		q.storeBack(t)
		return
	}
	q.sp.push(t)
	q.lim = 0
}

// pushAll appends ts at the back in order: one or two copies.
func (q *runQueue) pushAll(ts []*rec) {
	for q.sp.empty() && q.n+len(ts) > len(q.buf) && len(q.buf) < ringMax {
		q.grow()
	}
	if q.n+len(ts) > q.lim {
		for _, t := range ts {
			q.pushBack(t)
		}
		return
	}
	tail := (q.head + q.n) & (len(q.buf) - 1)
	k := copy(q.buf[tail:], ts)
	copy(q.buf, ts[k:])
	q.n += len(ts)
}

// storeBack is pushBack once there is room. It inlines where pushBack cannot
// (the grow call is too costly for the inliner), so the paths taken at every
// yield and rendezvous call it after checking room themselves.
func (q *runQueue) storeBack(t *rec) {
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = t
	q.n++
}

// room reports whether storeBack may be used.
func (q *runQueue) room() bool { return q.n < q.lim }

// pushBehind is pushBack for the tasklet a rendezvous switched away from
// (its partner runs next): into first where the queue is empty.
func (q *runQueue) pushBehind(t *rec) {
	if !q.hold(t) {
		q.pushBack(t)
	}
}

// hold makes t first if the queue is empty, and reports whether it did:
// pushBehind's part that inlines, for burst's rendezvous.
func (q *runQueue) hold(t *rec) bool {
	if q.n == 0 && q.first == nil && q.sp.empty() {
		q.first = t
		return true
	}
	return false
}

func (q *runQueue) pushFront(t *rec) {
	if f := q.first; f != nil { // it goes behind t, ahead of the ring
		q.first = nil
		q.pushFront(f)
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1) & (len(q.buf) - 1)
	q.buf[q.head] = t
	q.n++
}

// popFront takes the queue's first tasklet; the caller checked that there
// is one (drained).
func (q *runQueue) popFront() *rec {
	if t := q.first; t != nil {
		q.first = nil
		return t
	}
	return q.popRing()
}

// popRing is popFront where first is nil and the ring holds a tasklet.
func (q *runQueue) popRing() *rec {
	// Head and array in locals: the store of nil would make the compiler
	// load both again (it may alias them), two instructions a switch.
	h, buf := q.head, q.buf
	t := buf[h]
	buf[h] = nil
	q.head = (h + 1) & (len(buf) - 1)
	q.n--
	return t
}

// refill makes the spill's first chunk the ring, which ran empty, and
// reports whether the queue had one: the places that find n zero, which
// are off the path of every switch, call it (through drained) before they
// take the queue for empty, so popRing stays as small as a ring's pop.
func (q *runQueue) refill() bool { return !q.sp.empty() && q.swapIn() }

// drained reports whether no tasklet is queued, refilling an empty ring
// from the spill first.
func (q *runQueue) drained() bool { return q.n == 0 && q.first == nil && !q.refill() }

//go:noinline
func (q *runQueue) swapIn() bool {
	if len(q.buf) == spillLen && len(q.sp.free) < maxFreeChunks {
		q.sp.free = append(q.sp.free, (*spillChunk)(q.buf)) // the ring's array is a chunk: kept for a later one
	}
	c, k := q.sp.take()
	q.setRing(c[:], 0)
	q.n, q.chunkRing = k, true
	return true
}

// remove takes t out of the queue, keeping the order of the rest. O(n),
// for the rare Remove, Kill and Throw, and migrations: past first, the
// search starts at the back (the spill, then the ring backwards), where a
// shed takes the tasklets it moves away, so each of a thousand moves out of
// a queue of 20,000 costs what lies behind it, not a scan of the whole one.
func (q *runQueue) remove(t *rec) bool {
	if t == nil {
		return false
	}
	if q.first == t {
		q.first = nil
		return true
	}
	if q.sp.remove(t) {
		if q.sp.empty() {
			q.lim = len(q.buf)
		}
		return true
	}
	for i := q.n - 1; i >= 0; i-- {
		if q.ring(i) == t {
			for j := i; j < q.n-1; j++ {
				q.set(j, q.ring(j+1))
			}
			q.set(q.n-1, nil)
			q.n--
			return true
		}
	}
	return false
}

func (q *runQueue) set(i int, t *rec) { q.buf[(q.head+i)&(len(q.buf)-1)] = t }

// table maps IDs to records through pages of consecutive IDs: IDs are handed
// out in sequence, so spawning and dying cost an array store and a cached
// page lookup instead of a hash-map insert and delete.
type table[E any] struct {
	pages map[uint64]*page[E]
	// cache holds recently used pages by key mod cacheSlots, so that the
	// page of the newest IDs (spawns) and those of older ones (deaths,
	// lookups) hit side by side: with one entry, a program that spawns
	// as many as end went to the map for nearly every one.
	cache [cacheSlots]pageRef[E]
	spare []*page[E] // pages emptied (all nil), for the next pages made
	n     int
	slab  core.Slab[page[E]]
	build func() int // the scheduler's block.Building
}

// building is how many of a run queue's or table's pieces a slab takes at
// once: as many as a chunk holds (Slab.New caps it at 8 MiB, three huge
// pages) while the scheduler's records come in chunks, else none.
func building(build func() int) int {
	if build != nil && build() > 0 {
		return math.MaxInt
	}
	return 0
}

const (
	pageBits   = 8
	cacheSlots = 8 // a power of two
)

type pageRef[E any] struct {
	key uint64
	p   *page[E]
}

// maxSparePages bounds the emptied pages a table keeps (16 KiB): enough for
// the few thousand tasklets a program starts and ends at a time.
const maxSparePages = 8

type page[E any] struct {
	slot [1 << pageBits]*E
	live int
}

// release lets go of the table's slab and the emptied pages it kept,
// which may be a big world's: a page in use keeps its chunk on its own.
func (tb *table[E]) release() { tb.slab, tb.spare = core.Slab[page[E]]{}, nil }

// page returns the page of id, or nil.
func (tb *table[E]) page(id uint64) *page[E] {
	key := id >> pageBits
	if c := &tb.cache[key&(cacheSlots-1)]; c.p != nil && c.key == key {
		return c.p
	}
	return tb.miss(key)
}

// miss is page past the cache, kept out of line so that page inlines.
//
//go:noinline
func (tb *table[E]) miss(key uint64) *page[E] {
	p := tb.pages[key]
	if p != nil {
		tb.cache[key&(cacheSlots-1)] = pageRef[E]{key, p}
	}
	return p
}

// pageFor returns the page of key, made if there is none (an emptied one
// when the table kept one). put calls it only past the cache.
//
//go:noinline
func (tb *table[E]) pageFor(key uint64) *page[E] {
	p := tb.pages[key]
	if p == nil {
		if tb.pages == nil {
			tb.pages = make(map[uint64]*page[E])
		}
		if n := len(tb.spare); n > 0 {
			p = tb.spare[n-1]
			tb.spare = tb.spare[:n-1]
		} else {
			p = tb.slab.New(building(tb.build))
		}
		tb.pages[key] = p
	}
	tb.cache[key&(cacheSlots-1)] = pageRef[E]{key, p}
	return p
}

func (tb *table[E]) get(id uint64) *E {
	if p := tb.page(id); p != nil {
		return p.slot[id&(1<<pageBits-1)]
	}
	return nil
}

func (tb *table[E]) put(id uint64, e *E) {
	key := id >> pageBits
	c := &tb.cache[key&(cacheSlots-1)]
	p := c.p
	if p == nil || c.key != key {
		p = tb.pageFor(key)
	}
	s := &p.slot[id&(1<<pageBits-1)]
	if *s == nil {
		p.live++
		tb.n++
	}
	*s = e
}

func (tb *table[E]) del(id uint64) {
	p := tb.page(id)
	if p == nil {
		return
	}
	s := &p.slot[id&(1<<pageBits-1)]
	if *s == nil {
		return
	}
	*s = nil
	p.live--
	tb.n--
	if p.live == 0 {
		// Kept for the next pages: where few tasklets live at a time (a
		// tree run depth first), the page of the newest IDs empties and
		// fills again with every few spawns; making a 2 KiB page each time
		// was most of the bytes such a program allocated.
		key := id >> pageBits
		delete(tb.pages, key)
		if c := &tb.cache[key&(cacheSlots-1)]; c.p == p {
			c.p = nil
		}
		if len(tb.spare) < maxSparePages {
			tb.spare = append(tb.spare, p)
		}
	}
}

// each calls fn for every record in ID order.
func (tb *table[E]) each(fn func(*E)) {
	for e := range tb.all() {
		fn(e)
	}
}

// all yields every record in ID order.
func (tb *table[E]) all() iter.Seq[*E] { return tb.from(0) }

// from yields the records of IDs id and up, in ID order.
func (tb *table[E]) from(id uint64) iter.Seq[*E] {
	return func(yield func(*E) bool) {
		first := id >> pageBits
		keys := make([]uint64, 0, len(tb.pages))
		for k := range tb.pages {
			if k >= first {
				keys = append(keys, k)
			}
		}
		sortUint64(keys)
		for _, k := range keys {
			p, i := tb.pages[k], 0
			if k == first {
				i = int(id & (1<<pageBits - 1))
			}
			for ; i < len(p.slot); i++ {
				if e := p.slot[i]; e != nil && !yield(e) {
					return
				}
			}
		}
	}
}

// countFrom is the number of records of IDs id and up, from the pages'
// counts: a page of a listing needs no walk of the rest.
func (tb *table[E]) countFrom(id uint64) int {
	n, first := 0, id>>pageBits
	for k, p := range tb.pages {
		switch {
		case k > first:
			n += p.live
		case k == first:
			for _, e := range p.slot[id&(1<<pageBits-1):] {
				if e != nil {
					n++
				}
			}
		}
	}
	return n
}
