package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, seq func(func(int) bool)) error {
	for v := range seq {
		_ = t.Send(1, v)
	}
	return nil
}
