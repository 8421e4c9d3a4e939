package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
_L1:
	for i := 0; i < 3; i++ {
		if err := t.Yield(); err != nil || i == 1 {
			break _L1
		}
	}
	return nil
}
