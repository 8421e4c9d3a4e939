package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) int {
	return 0
}

//stackless:tasklet kind=p.y version=1
func Y(n int) error { return nil }

//stackless:tasklet kind=p.z
func Z(t *tasklet.Flow) error { return nil }

type R[T any] struct{ V T }

func (R[T]) M(t *tasklet.Flow) error { return nil }
