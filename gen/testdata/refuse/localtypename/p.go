package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// Y's local type takes the name gen writes for Z's behavior.
//
//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	type ZTasklet struct{ N int }
	z := ZTasklet{}
	_ = t.Yield()
	z.N++
	return nil
}

//stackless:tasklet kind=p.z version=1
func Z(t *tasklet.Flow) error { return t.Yield() }
