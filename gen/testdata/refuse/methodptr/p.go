package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type Guard struct{ HP int }

// A pointer receiver read after a point would be saved as a pointer.
//
//stackless:tasklet kind=p.x version=1
func (g *Guard) Run(t *tasklet.Flow) error {
	_ = t.Yield()
	g.HP++
	return nil
}
