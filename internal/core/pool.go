package core

import "sync"

// Pool keeps the records of ended tasklets for every Block that uses it
// (SetPool), past the maxSpare each Block keeps: a world whose tasklets
// end by the hundred thousand (a Skynet tree, a burst of requests) hands
// their records over maxSpare at a time, and the next world, or the next
// burst, takes them back before allocating blocks, as the Go runtime keeps
// the Gs of ended goroutines for new ones. Records it holds point at
// nothing but each other (Reuse cleared them), so they keep no world
// alive, only their blocks. It is a sync.Pool: safe for Blocks on any
// goroutines, and what no Block takes back is dropped by the second
// collection after it came, so a peak's records are kept for the next
// peak if it comes soon, and not for good if it does not. The zero Pool is
// ready to use.
type Pool[B, H, C any] struct{ p sync.Pool }

// SetPool makes a use p for records past its own spare ones: those it
// takes back go there, and it takes records from there before new blocks.
func (a *Block[B, H, C]) SetPool(p *Pool[B, H, C]) { a.pool = p }

// spill hands the spare records to the pool as one list, linked through
// their value fields (empty in a spare record), which costs no allocation:
// a slice per handover cost a cold Skynet tree 10 MB.
//
//go:noinline
func (a *Block[B, H, C]) spill() {
	var head *Rec[B, H, C]
	for _, r := range a.spare {
		if head != nil {
			r.value = head
		}
		head = r
	}
	clear(a.spare) // the pool holds them now
	a.spare = a.spare[:0]
	a.pool.p.Put(head)
}

// fill takes a list of records from the pool as the spare ones, in the
// order they were taken back; it reports false if the pool had none.
func (a *Block[B, H, C]) fill() bool {
	r, _ := a.pool.p.Get().(*Rec[B, H, C])
	if r == nil {
		return false
	}
	for r != nil {
		next, _ := r.value.(*Rec[B, H, C])
		r.value = nil
		a.spare = append(a.spare, r)
		r = next
	}
	return true
}
