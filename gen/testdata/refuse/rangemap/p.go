package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, m map[string]int) error {
	for k := range m {
		_ = t.Send(1, k)
	}
	return nil
}
