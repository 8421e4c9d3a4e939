package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// same returns the map it is given.
func same(m map[string]int) map[string]int { return m }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	hp := map[string]int{"a": 1}
	sum := 0
	for _, v := range same(hp) {
		_ = t.Yield()
		sum += v + hp["a"]
	}
	_ = sum
	return nil
}
