package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Lookout keeps locals named where and step across a suspension point:
// their fields cannot be Where and Step, the generated methods.
//
//stackless:tasklet kind=flowtest.lookout version=1
func Lookout(t *tasklet.Flow, out channel.ID) error {
	where := "tower"
	step := 2
	if err := t.Yield(); err != nil { // where: Lookout yields
		return err
	}
	return t.Send(out, fmt.Sprint(where, step))
}
