package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type route struct {
	Next  int
	Steps []int
}

func walk(t *tasklet.Flow, r route) error {
	for i := range r.Steps {
		if err := t.Yield(); err != nil {
			return err
		}
		r.Steps[i] = 0 // walked
	}
	return nil
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	r := route{Steps: []int{1, 2, 3}}
	if err := walk(t, r); err != nil {
		return err
	}
	_ = r.Steps[0]
	return nil
}
