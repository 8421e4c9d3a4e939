package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	for i := 0; i < 3; i, _ = i+1, t.Yield() {
	}
	return nil
}
