package flowtest

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Lookout keeps a local named where across a suspension point: its field
// cannot be Where, the generated method that says where the tasklet waits.
//
//stackless:tasklet kind=flowtest.lookout version=1
func Lookout(t *tasklet.Flow, out channel.ID) error {
	where := "tower"
	if err := t.Yield(); err != nil { // where: Lookout yields
		return err
	}
	return t.Send(out, where)
}
