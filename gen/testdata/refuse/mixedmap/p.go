package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

func bump(t *tasklet.Flow, m map[string]int) error {
	err := t.Yield()
	m["a"]++
	return err
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	counts := map[string]int{}
	if err := bump(t, counts); err != nil {
		return err
	}
	if err := bump(t, map[string]int{"b": 1}); err != nil {
		return err
	}
	_ = counts["a"]
	return nil
}
