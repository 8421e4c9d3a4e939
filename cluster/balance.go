package cluster

import (
	"math"
	"time"
)

// workerLoad is what the balancer reads of one worker.
type workerLoad struct {
	Node        uint16
	Runnable    float64 // runnable tasklets, averaged since the last sample
	StepsPerSec float64
	Tasklets    int
}

// loadMove asks the worker From to hand Count of its runnable tasklets to To.
type loadMove struct {
	From, To uint16
	Count    int
}

// balancer decides migrations from load samples. Its hysteresis keeps it
// from thrashing: a move needs a gap of at least MinGap runnable tasklets
// between the busiest and the idlest worker, seen in Confirm samples in a
// row unless the idlest is idle; a worker that just took part in a move
// sits out the next sample (its averages still show the old load); and
// tasklets never go back the way they came within Cooldown.
type balancer struct {
	MinGap   float64
	Confirm  int
	Cooldown time.Duration

	streak   int
	pending  loadMove
	resting  map[uint16]bool
	lastMove map[[2]uint16]time.Time
}

func newBalancer() *balancer {
	return &balancer{MinGap: 2, Confirm: 2, Cooldown: 2 * time.Second}
}

// decide looks at one sample of every worker and returns the move to make,
// if any.
func (b *balancer) decide(now time.Time, loads []workerLoad) (loadMove, bool) {
	resting := b.resting
	b.resting = nil
	var hi, lo *workerLoad
	for i := range loads {
		l := &loads[i]
		if resting[l.Node] {
			continue
		}
		if hi == nil || l.Runnable > hi.Runnable || (l.Runnable == hi.Runnable && l.Node < hi.Node) {
			hi = l
		}
		if lo == nil || l.Runnable < lo.Runnable || (l.Runnable == lo.Runnable && l.Node < lo.Node) {
			lo = l
		}
	}
	if hi == nil || lo == nil || hi.Node == lo.Node || hi.Runnable-lo.Runnable < b.MinGap {
		b.streak = 0
		return loadMove{}, false
	}
	if t, ok := b.lastMove[[2]uint16{lo.Node, hi.Node}]; ok && now.Sub(t) < b.Cooldown {
		b.streak = 0 // the last move went the other way: let it settle
		return loadMove{}, false
	}
	// Move half the gap: both end near the mean. Counts are rounded so that
	// a fractional average never asks for a move that would flip the order.
	m := loadMove{From: hi.Node, To: lo.Node, Count: int(math.Floor((hi.Runnable - lo.Runnable) / 2))}
	if m.Count < 1 {
		b.streak = 0
		return loadMove{}, false
	}
	if b.streak == 0 || b.pending.From != m.From || b.pending.To != m.To {
		b.streak, b.pending = 0, m
	}
	b.streak++
	// An idle worker (nothing runnable) next to a busy one is a core doing
	// nothing: move at once. Between two busy workers, wait for Confirm
	// samples in a row.
	if b.streak < b.Confirm && lo.Runnable >= 0.5 {
		return loadMove{}, false
	}
	b.streak = 0
	if b.lastMove == nil {
		b.lastMove = map[[2]uint16]time.Time{}
	}
	b.lastMove[[2]uint16{m.From, m.To}] = now
	b.resting = map[uint16]bool{m.From: true, m.To: true}
	return m, true
}

// leastLoaded returns the index of the worker with the fewest tasklets;
// ties go to fewer runnable ones, then to the lowest node.
func leastLoaded(loads []workerLoad) int {
	best := -1
	for i, l := range loads {
		if best < 0 {
			best = i
			continue
		}
		b := loads[best]
		if l.Tasklets < b.Tasklets || (l.Tasklets == b.Tasklets && (l.Runnable < b.Runnable || (l.Runnable == b.Runnable && l.Node < b.Node))) {
			best = i
		}
	}
	return best
}
