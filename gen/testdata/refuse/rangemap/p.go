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
	// An index that is neither a variable nor a constant.
	for k := range gs[len(gs)-1].M {
		_ = t.Send(1, k)
	}
	// The body assigns the index.
	i := 0
	for k := range gs[i].M {
		_ = t.Send(1, k)
		i++
	}
	// The body may replace the element holding the map.
	for k := range gs[i].M {
		_ = t.Send(1, k)
		gs[0] = group{}
	}
	// Not refused: a constant index, entries edited, another constant.
	for k := range gs[0].M {
		_ = t.Send(1, k)
		gs[0].M[k]++
	}
	_ = gs
	return nil
}
