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

// Pair holds Inner loose once and plain once: the plain one is refused.
type Pair struct {
	A Inner `stackless:",loose"`
	B Inner
}

type Inner struct{ V any }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	var last any // boxed: saved with its type
	board := map[string]any{}
	n := Note{}
	p := Pair{}
	_ = t.Yield()
	println(last, len(board), len(n.Seen), p.B.V == nil)
	return nil
}
