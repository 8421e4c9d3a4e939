package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Post is an entity made of another: its Sentry's method flows are its own.
type Post struct {
	Sentry
	Gate string
}

// Wall embeds a Post, so a Sentry two embeddings down.
type Wall struct {
	Post
	Height int
}

// Guarded calls method flows promoted from embedded fields: a value
// receiver handing its copy back, a pointer receiver (the embedded field
// addressed implicitly) read before its point, one through a pointer to
// the post, and one two embeddings down.
//
//stackless:tasklet kind=flowtest.embed version=1
func Guarded(t *tasklet.Flow, out channel.ID, p Post) error {
	var left int
	p.Sentry, left = p.patrol(t, 2) // where: Guarded calls patrol
	healed := p.heal(t, 4)
	pp := &Post{Sentry: Sentry{Name: "q", HP: 9}, Gate: "north"}
	_, far := pp.patrol(t, 1)
	w := Wall{Post: p, Height: 3}
	w.HP += 10
	_, deep := w.patrol(t, 1)
	healed += w.heal(t, 2)
	return t.Send(out, fmt.Sprint(p, left, healed, far, deep, w))
}
