package scheduler_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Outside a scheduler (a test's fake host, or none) Make is new.
func TestMakeWithoutAScheduler(t *testing.T) {
	a, b := scheduler.Make[countdown](nil), scheduler.Make[countdown](nil)
	assert.NotSame(t, a, b)
	assert.Equal(t, countdown{}, *a)
}

// countdown counts down, spawning a child for each count, and exits.
type countdown struct {
	N    int
	Out  tasklet.ChanID
	Sent bool
}

func (c *countdown) Step(t *tasklet.T) tasklet.Op {
	if c.Sent {
		return t.Exit()
	}
	if c.N == 0 {
		c.Sent = true
		return t.Send(c.Out, "done")
	}
	child := scheduler.Make[countdown](t.Host())
	*child = countdown{N: c.N - 1, Out: c.Out}
	t.Spawn(child)
	return t.Exit()
}

// Behaviors for a world's tasklets come from Make, in a step or before
// Run; a big world's come from chunks on huge pages.
func ExampleMake() {
	ctx := context.Background()
	s := scheduler.New()
	out := s.NewChannel(0)
	c := scheduler.Make[countdown](s)
	*c = countdown{N: 3, Out: out}
	s.Spawn(c)
	v, err := s.Recv(ctx, out)
	fmt.Println(v, err, s.Run(ctx), s.Len())
	// Output: done <nil> <nil> 0
}
