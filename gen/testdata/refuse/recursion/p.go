package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	return down(t, 3)
}

func down(t *tasklet.Flow, n int) error {
	if n == 0 {
		return t.Yield()
	}
	return down(t, n-1)
}
