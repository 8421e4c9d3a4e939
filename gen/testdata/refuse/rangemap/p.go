package p

import (
	"github.com/stackless-go/stackless/tasklet"
)

type group struct{ M map[string]int }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, m map[string]int, gs []group) error {
	// The body assigns m: the loop could not read the map it started on.
	for k := range m {
		_ = t.Send(1, k)
		m = nil
	}
	// An element of a slice the flow keeps: the map would be saved twice.
	for k := range gs[0].M {
		_ = t.Send(1, k)
	}
	_ = gs
	return nil
}
