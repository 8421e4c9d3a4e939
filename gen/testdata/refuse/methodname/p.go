package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type Guard struct{ HP int }

//stackless:tasklet kind=p.x version=1
func (g Guard) Run(t *tasklet.Flow) error {
	_ = t.Yield()
	return nil
}

//stackless:tasklet kind=p.y version=1
func GuardRun(t *tasklet.Flow) error {
	_ = t.Yield()
	return nil
}
