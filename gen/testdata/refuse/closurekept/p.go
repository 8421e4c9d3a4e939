package p

import (
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

var hooks []func() int

// keep stores f: a literal handed to it may run after a restore.
func keep(f func() int) { hooks = append(hooks, f) }

// later hands f to a goroutine.
func later(f func()) { go f() }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	n := 1
	_ = t.Yield()
	keep(func() int { return n })
	hooks = append(hooks, func() int { return n + 1 })
	time.AfterFunc(time.Second, func() { n++ })
	later(func() { n-- })
	get := func() int { return n * 2 }
	hooks = append(hooks, get)
	_ = t.Yield()
	n++
	return nil
}

// made returns a literal over its saved local: the frame is gone once it
// returns, where Go keeps n alive.
func made(t *tasklet.Flow) func() int {
	n := 1
	_ = t.Yield()
	return func() int { return n }
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	f := made(t)
	_ = f()
	return nil
}
