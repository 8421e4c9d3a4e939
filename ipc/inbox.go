package ipc

import (
	"sync"

	"github.com/stackless-go/stackless/scheduler"
)

// Link readers decode frames on their own goroutines into batches and hand
// whole batches to the scheduler's goroutine: one scheduler.Do per burst of
// input, not one per message. Batches are recycled, so steady traffic
// allocates nothing here.

const (
	maxBatch = 256     // messages per batch
	maxInbox = 1 << 16 // messages waiting for the scheduler before readers wait
)

type batch struct {
	msgs []message
	scratch
}

// next appends a message slot and returns it; decodeMessage overwrites it
// whole. Slots are zero (reset clears them).
func (b *batch) next() *message {
	if len(b.msgs) < cap(b.msgs) {
		b.msgs = b.msgs[:len(b.msgs)+1]
	} else {
		b.msgs = append(b.msgs, message{})
	}
	return &b.msgs[len(b.msgs)-1]
}

// drop removes the last message.
func (b *batch) drop() {
	b.msgs[len(b.msgs)-1] = message{}
	b.msgs = b.msgs[:len(b.msgs)-1]
}

func (b *batch) reset() {
	clear(b.msgs)
	b.msgs = b.msgs[:0]
	b.scratch.reset()
}

type inbox struct {
	n         *Node
	mu        sync.Mutex
	room      sync.Cond // signalled when the scheduler took batches
	queue     []*batch
	spare     []*batch
	free      []*batch
	queued    int // messages in queue
	scheduled bool
	drainFn   func(*scheduler.Scheduler)
}

func (in *inbox) init(n *Node) {
	in.n = n
	in.room.L = &in.mu
	in.drainFn = in.drain
}

func (n *Node) getBatch() *batch {
	in := &n.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if k := len(in.free); k > 0 {
		b := in.free[k-1]
		in.free = in.free[:k-1]
		return b
	}
	return new(batch)
}

// submit hands b to the scheduler and returns the batch to fill next. A
// reader that runs too far ahead of the scheduler waits here (unless its
// link closes), so a flood cannot grow memory without bound.
func (n *Node) submit(l *link, b *batch) *batch {
	if len(b.msgs) == 0 {
		return b
	}
	in := &n.in
	in.mu.Lock()
	for in.queued >= maxInbox && !l.isClosed() && !n.isClosed() {
		in.room.Wait()
	}
	in.queue = append(in.queue, b)
	in.queued += len(b.msgs) + len(b.vals) // a PUTS weighs its values
	do := !in.scheduled
	in.scheduled = true
	var nb *batch
	if k := len(in.free); k > 0 {
		nb = in.free[k-1]
		in.free = in.free[:k-1]
	}
	in.mu.Unlock()
	if do {
		n.s.Do(in.drainFn)
	}
	if nb == nil {
		nb = new(batch)
	}
	return nb
}

// drain runs on the scheduler's goroutine and handles every queued message
// in arrival order (so each link's messages keep their order).
func (in *inbox) drain(*scheduler.Scheduler) {
	in.mu.Lock()
	q := in.queue
	in.queue = in.spare[:0]
	in.scheduled = false
	in.queued = 0
	in.room.Broadcast()
	in.mu.Unlock()
	for _, b := range q {
		for i := range b.msgs {
			in.n.handle(&b.msgs[i])
		}
		b.reset()
	}
	in.mu.Lock()
	if len(in.free) < 64 {
		in.free = append(in.free, q...)
	}
	clear(q)
	in.spare = q[:0]
	in.mu.Unlock()
}

// drainQueued handles at once (on the scheduler's goroutine) the batches
// readers handed over, so that the frames the poller took after them come
// after them.
func (in *inbox) drainQueued() {
	in.mu.Lock()
	queued := len(in.queue) > 0
	in.mu.Unlock()
	if queued {
		in.drain(nil)
	}
}

// wake lets readers waiting for room notice a closed link or node.
func (in *inbox) wake() {
	in.mu.Lock()
	in.room.Broadcast()
	in.mu.Unlock()
}
