package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// X hands pass a part of b, which pass writes only through fill, the flow
// it recurses with; a restore inside pass would part pass's copy from b.
// fill is asked first (its call comes first), and asks about pass while
// its own answer is open: pass's answer then must not be kept as "writes
// nothing".
//
//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, out channel.ID) error {
	fill(t, make([]int, 3), 3) // not a local: fill's parameter is not linked
	b := []int{1, 2, 3, 4}
	pass(t, b[1:], 2)
	return t.Send(out, b)
}

func fill(t *tasklet.Flow, xs []int, n int) {
	if n == 0 {
		return
	}
	pass(t, xs, n-1)
	xs[n-1] = n * n
}

func pass(t *tasklet.Flow, xs []int, n int) {
	_ = t.Yield()
	fill(t, xs, n)
}
