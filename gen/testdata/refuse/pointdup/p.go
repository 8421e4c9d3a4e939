package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, in channel.ID) error {
	//stackless:point wait
	if _, err := t.Recv(in); err != nil {
		return err
	}
	//stackless:point wait
	return t.Yield()
}
