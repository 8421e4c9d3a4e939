package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Route is a value with a slice, ranged over through a field path.
type Route struct {
	Name  string
	Steps []int
}

// Paths ranges over a slice through a field path (r.Steps): a write to an
// element the loop has yet to reach shows when it gets there, restored or
// not, as in Go; a loop whose body appends to the path keeps the length it
// started with.
//
//stackless:tasklet kind=flowtest.paths version=1
func Paths(t *tasklet.Flow, out channel.ID) error {
	r := Route{Name: "r", Steps: []int{1, 2, 3}}
	var got []int
	for i, s := range r.Steps {
		_ = t.Yield()
		if i+1 < len(r.Steps) {
			r.Steps[i+1] += 10
		}
		got = append(got, s)
	}
	n := 0
	for _, s := range r.Steps {
		r.Steps = append(r.Steps, add(t, s, 0))
		n++
	}
	return t.Send(out, fmt.Sprint(got, r, n))
}
