package scheduler

import (
	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// Make returns a new zero B, for a behavior that h, the scheduler that
// runs the caller (t.Host() in a step, or the scheduler itself before
// Run), is about to spawn:
//
//	c := scheduler.Make[node](t.Host())
//	*c = node{Depth: k.Depth + 1, Out: k.In}
//	t.Spawn(c)
//
// While the scheduler builds a big world (past 131,072 tasklets made,
// while no more than an eighth of their records were let go: a level's
// entities, a tree spawned before anything ends), it carves behaviors from
// chunks, as it does its records, on the page size that has faulted in
// faster here (huge or small): building such a world is mostly first
// touches of fresh memory, and behaviors are most of it (a cold Skynet
// tree's behaviors from Make: README, Benchmarks). Otherwise,
// and for a host that is not a Scheduler, Make is new(B). A chunk (at most
// 8 MiB) stays in memory while any behavior from it is referenced, as a
// chunk of records does; what is left of the chunks goes when Run or Tick
// returns with no tasklet left. Call it where Spawn may be called: in a
// step, or on the scheduler's goroutine.
func Make[B any](h tasklet.Host) *B {
	s, ok := h.(*Scheduler)
	if !ok {
		return new(B)
	}
	n := s.block.Building()
	for _, sl := range s.slabs {
		if b, ok := sl.(*core.Slab[B]); ok {
			return b.New(n)
		}
	}
	if n == 0 {
		return new(B)
	}
	b := new(core.Slab[B])
	s.slabs = append(s.slabs, b)
	return b.New(n)
}
