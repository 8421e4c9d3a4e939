// Package flowtest holds straight-line tasklets that exercise every
// construct stackless gen lowers; the tests of package gen run each of them
// lowered, unlowered, and lowered with a save and restore after every step,
// and compare the traces.
package flowtest

//go:generate go run ../../../cmd/stackless gen

import (
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Guard counts intruders until its channel closes.
//
//stackless:tasklet kind=flowtest.guard version=1
func Guard(t *tasklet.Flow, eyes channel.ID, out channel.ID) error {
	seen := 0
	for {
		v, err := t.Recv(eyes)
		if errors.Is(err, channel.ErrClosed) {
			return t.Send(out, fmt.Sprintf("guard saw %d intruders", seen))
		}
		if err != nil {
			return err
		}
		seen++
		if err := t.Send(out, fmt.Sprintf("guard sees %T %v", v, v)); err != nil {
			return err
		}
	}
}
