package hugepage

import (
	"slices"
	"time"
)

// chooser picks the page size for fresh chunks from what samples of each
// size cost to fault in lately: neither is cheaper everywhere. On bare
// metal a huge page costs its clearing (about 0.1 ms for 2 MiB), 512 small
// ones a trap each as well. On a VM whose host takes back the guest's free
// memory (free page reporting, as on the README's VM) the big free blocks
// are what the host took back, and a huge page comes from one: its first
// touch cost the host 512 faults there, about 5 ms, against 0.6 ms for 512
// small pages from memory the guest had kept.
//
// A chunk's first aligned huge page is its sample: of the size that has
// been the cheaper, or, every interval chunks, of the other; its second
// is of the cheaper size and measured too, and so is the rest. Each time
// the other size's sample loses, interval doubles (up to retryMax): the
// machine is likely to stay as it is. Before any sample, the first page
// tries huge pages and the rest small ones.
type chooser struct {
	costs    [2][]float64 // ns a byte of the last samples of each size
	since    int          // chunks since the other size was tried
	interval int          // chunks between tries of the other size
	insist   bool         // huge pages whatever they cost (ReserveHeap)
}

const (
	small, huge = 0, 1
	keep        = 3 // samples kept of each size: one stray does not decide
	retryMin    = 4
	retryMax    = 64
)

// cost is the median of the size's last samples, 0 before any.
func (c *chooser) cost(size int) float64 {
	var s [keep]float64
	n := copy(s[:], c.costs[size])
	if n == 0 {
		return 0
	}
	slices.Sort(s[:n])
	return s[n/2]
}

// best is the size measured the cheaper; small before both are measured.
func (c *chooser) best() int {
	h, s := c.cost(huge), c.cost(small)
	if h != 0 && s != 0 && h <= s {
		return huge
	}
	return small
}

// plan says, for the next chunk, whether its first aligned huge page and
// the rest go on huge pages.
func (c *chooser) plan() (sampleHuge, restHuge bool) {
	if c.insist {
		return true, true
	}
	best := c.best()
	switch {
	case len(c.costs[huge]) == 0:
		return true, best == huge
	case len(c.costs[small]) == 0:
		return false, best == huge
	}
	c.since++
	if c.since > max(c.interval, retryMin) {
		c.since = 0
		return best != huge, best == huge
	}
	return best == huge, best == huge
}

// record keeps what faulting n bytes in pages of the size took.
func (c *chooser) record(isHuge bool, took time.Duration, n uintptr) {
	if n == 0 || took <= 0 {
		return
	}
	size := small
	if isHuge {
		size = huge
	}
	before := c.best()
	c.costs[size] = append(c.costs[size], float64(took.Nanoseconds())/float64(n))
	if len(c.costs[size]) > keep {
		c.costs[size] = c.costs[size][1:]
	}
	switch {
	case len(c.costs[small]) == 0 || len(c.costs[huge]) == 0 || size == before:
	case c.best() == size: // the other size won: the machine changed
		c.interval = retryMin
	default: // its try lost again
		c.interval = min(max(c.interval, retryMin)*2, retryMax)
	}
}
