package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type Guard struct{ HP int }

func (g Guard) rest(t *tasklet.Flow) int {
	_ = t.Yield()
	return g.HP
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	g := Guard{HP: 1}
	_ = Guard.rest(g, t)
	return nil
}
