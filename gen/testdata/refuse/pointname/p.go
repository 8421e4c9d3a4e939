package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	//stackless:point 2nd
	_ = t.Yield()
	//stackless:point
	_ = t.Yield()
	//stackless:point a b
	_ = t.Yield()
	//stackless:pointy
	return t.Yield()
}
