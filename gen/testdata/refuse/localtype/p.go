package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

type taken struct{}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	const n = 3
	type box[T any] struct{ V T }
	type taken struct{ A int }
	type row [n]int
	type pair struct{ A, B int }
	type error struct{ Msg string }
	type tasklet struct{}
	_, _, _, _, _, _ = box[int]{}, taken{}, row{}, pair{}, error{}, tasklet{}
	return t.Yield()
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	type pair struct{ C int }
	_ = pair{}
	return t.Yield()
}
