package p

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type Path []int

// bump writes through its receiver after a point.
func (p Path) bump(t *tasklet.Flow) {
	_ = t.Yield()
	p[0]++
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	path := Path{1, 2}
	path.bump(t)
	fmt.Println(path)
	return nil
}
