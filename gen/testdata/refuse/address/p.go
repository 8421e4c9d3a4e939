package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	n := 1
	p := &n
	_ = t.Yield()
	n++
	_ = p
	return nil
}
