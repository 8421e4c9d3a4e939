package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, n int) error {
	switch n {
	case two(t):
		fallthrough
	case 3:
		return nil
	}
	return nil
}

func two(t *tasklet.Flow) int { _ = t.Yield(); return 2 }
