package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// Note is saved whole: its Seen field would lose its values' types.
type Note struct {
	Seen []any
	Text any `stackless:",loose"` // on purpose: msgpack's generic types
	Memo any `stackless:"-"`
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	var last any // boxed: saved with its type
	board := map[string]any{}
	n := Note{}
	_ = t.Yield()
	println(last, len(board), len(n.Seen))
	return nil
}
