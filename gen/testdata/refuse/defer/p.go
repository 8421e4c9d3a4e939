package p

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

type box struct{ N int }

func (b *box) bump() { b.N++ }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, ch channel.ID, cleanups []func()) error {
	for i := range 3 {
		defer println(i)
	}
	defer t.Send(ch, 1)
	defer sub(t)
	defer println("got", must(t.Recv(ch)))
	defer cleanups[0]()
	done := func() {}
	defer done()
	boxes := []box{{}}
	defer boxes[0].bump()
	defer func() { _ = recover() }()
	return t.Yield()
}

func sub(t *tasklet.Flow) { _ = t.Yield() }

func must(v any, _ error) any { return v }
