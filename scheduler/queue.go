package scheduler

// runQueue is a double-ended ring of tasklets: round robin at the back, and
// "runs at once" at the front. Its length is a power of two, so positions
// wrap with a mask.
type runQueue struct {
	buf  []*rec
	head int
	n    int
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
	q.buf, q.head = buf, 0
}

// minRunQueue is the smallest array a run queue grows to.
const minRunQueue = 64

// keepRunQueue is the largest array (32 KiB) an empty run queue keeps: a
// program that runs a few thousand tasklets at a time and waits in between
// does not grow it again after every wait.
const keepRunQueue = 4096

// release drops the array of an empty queue that grew past keepRunQueue: a
// world of blocked tasklets (idle actors waiting for input) should not keep
// the room it needed while they were all runnable, 8 bytes per tasklet.
func (q *runQueue) release() {
	if q.n == 0 && len(q.buf) > keepRunQueue {
		q.buf, q.head = nil, 0
	}
}

func (q *runQueue) at(i int) *rec { return q.buf[(q.head+i)&(len(q.buf)-1)] }

func (q *runQueue) pushBack(t *rec) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.storeBack(t)
}

// pushAll appends ts at the back in order: one or two copies.
func (q *runQueue) pushAll(ts []*rec) {
	for q.n+len(ts) > len(q.buf) {
		q.grow()
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
func (q *runQueue) room() bool { return q.n < len(q.buf) }

func (q *runQueue) pushFront(t *rec) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1) & (len(q.buf) - 1)
	q.buf[q.head] = t
	q.n++
}

func (q *runQueue) popFront() *rec {
	// Head and array in locals: the store of nil would make the compiler
	// load both again (it may alias them), two instructions a switch.
	h, buf := q.head, q.buf
	t := buf[h]
	buf[h] = nil
	q.head = (h + 1) & (len(buf) - 1)
	q.n--
	return t
}

// remove takes t out of the queue, keeping the order of the rest. O(n), for
// the rare Remove, Kill and Throw.
func (q *runQueue) remove(t *rec) bool {
	for i := 0; i < q.n; i++ {
		if q.at(i) == t {
			for j := i; j < q.n-1; j++ {
				q.set(j, q.at(j+1))
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
	pages   map[uint64]*page[E]
	lastKey uint64
	last    *page[E]
	spare   []*page[E] // pages emptied (all nil), for the next pages made
	n       int
}

const pageBits = 8

// maxSparePages bounds the emptied pages a table keeps (16 KiB): enough for
// the few thousand tasklets a program starts and ends at a time.
const maxSparePages = 8

type page[E any] struct {
	slot [1 << pageBits]*E
	live int
}

// page returns the page of id, or nil.
func (tb *table[E]) page(id uint64) *page[E] {
	key := id >> pageBits
	if tb.last != nil && tb.lastKey == key {
		return tb.last
	}
	p := tb.pages[key]
	if p != nil {
		tb.last, tb.lastKey = p, key
	}
	return p
}

// pageFor returns the page of key, made if there is none (an emptied one
// when the table kept one). put calls it only past the one-entry cache.
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
			p = new(page[E])
		}
		tb.pages[key] = p
	}
	tb.last, tb.lastKey = p, key
	return p
}

func (tb *table[E]) get(id uint64) *E {
	if p := tb.page(id); p != nil {
		return p.slot[id&(1<<pageBits-1)]
	}
	return nil
}

func (tb *table[E]) put(id uint64, e *E) {
	p := tb.last
	if p == nil || tb.lastKey != id>>pageBits {
		p = tb.pageFor(id >> pageBits)
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
		delete(tb.pages, id>>pageBits)
		if tb.last == p {
			tb.last = nil
		}
		if len(tb.spare) < maxSparePages {
			tb.spare = append(tb.spare, p)
		}
	}
}

// each calls fn for every record in ID order.
func (tb *table[E]) each(fn func(*E)) {
	keys := make([]uint64, 0, len(tb.pages))
	for k := range tb.pages {
		keys = append(keys, k)
	}
	sortUint64(keys)
	for _, k := range keys {
		for _, e := range tb.pages[k].slot {
			if e != nil {
				fn(e)
			}
		}
	}
}
