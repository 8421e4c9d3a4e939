package p

import (
	"github.com/stackless-go/stackless/tasklet"
)

type route struct{ Steps []int }

var table = []int{1, 2, 3}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, r route, items []int) error {
	// The loop ranges over a copy of a sub-slice, and the body writes
	// through items to an element it has yet to reach.
	for i, v := range items[1:] {
		_ = t.Yield()
		items[i+2] = v
	}
	// The body appends to the path it ranges over and writes through it.
	for i, v := range r.Steps {
		r.Steps = append(r.Steps, v)
		_ = t.Yield()
		r.Steps[i] = 0
	}
	// A package variable, which a restore does not even save.
	for _, v := range table[:2] {
		_ = t.Yield()
		table[2] += v
	}
	// Not refused: only the indices, or no write through the local.
	for i := range items[1:] {
		_ = t.Yield()
		items[i] = 1
	}
	for i, _ := range items[1:] {
		_ = t.Yield()
		items[i] = 2
	}
	for _, v := range items[1:] {
		_ = t.Yield()
		_ = v
	}
	return nil
}
