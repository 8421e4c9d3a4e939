package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

type slot struct{ V any }

var slots [4]slot

func next() *slot { return &slots[0] }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, in channel.ID) error {
	var err error
	next().V, err = t.Recv(in)
	return err
}
