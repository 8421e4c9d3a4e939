package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// A tasklet's parameters are saved until it starts: a func cannot be.
//
//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, f func() int) error {
	_ = f()
	_ = t.Yield()
	_ = each(t, []int{1}, func(int) {})
	return nil
}

// each calls f after a point: f would have to be saved.
func each(t *tasklet.Flow, xs []int, f func(int)) int {
	for _, x := range xs {
		_ = t.Yield()
		f(x)
	}
	return len(xs)
}
