package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Expressed calls Sentry's method flows written as method expressions: on
// a value, on an addressed field, and promoted through an embedded field
// of a value and of a pointer.
//
//stackless:tasklet kind=flowtest.expressed version=1
func Expressed(t *tasklet.Flow, out channel.ID, p Post) error {
	var left int
	p.Sentry, left = Sentry.patrol(p.Sentry, t, 2)
	healed := (*Sentry).heal(&p.Sentry, t, 3)
	_, far := Post.patrol(p, t, 1)
	pp := &Post{Sentry: Sentry{Name: "r", HP: 4}}
	healed += (*Post).heal(pp, t, 5)
	return t.Send(out, fmt.Sprint(p, left, healed, far))
}
