package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type body struct {
	HP   int
	Seen map[string]int
}

func patrol(t *tasklet.Flow, g body) error {
	err := t.Yield()
	g.Seen["x"]++
	return err
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	g := body{HP: 5, Seen: map[string]int{}}
	for range 2 {
		if err := patrol(t, g); err != nil {
			return err
		}
	}
	return nil
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	seen := map[string]int{}
	if err := patrol(t, body{Seen: seen}); err != nil { // a new body over the caller's map
		return err
	}
	_ = seen["x"]
	return nil
}
