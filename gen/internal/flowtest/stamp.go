package flowtest

import (
	"strconv"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Stamper's file uses strconv only in a deferred call's argument, which
// the lowering evaluates at the defer: the generated file must import it.
//
//stackless:tasklet kind=flowtest.stamper version=1
func Stamper(t *tasklet.Flow, out channel.ID, n int) error {
	defer t.TrySend(out, "stamped "+strconv.Itoa(n)) // n as it is here
	n++
	return t.Send(out, n)
}
