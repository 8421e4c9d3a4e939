package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Cases suspends in case expressions, which Go evaluates top to bottom,
// left to right, until one matches: a tagless switch whose first clause
// returns (the later clauses still read the locals), a tag with an init,
// several expressions in a case, default in the middle, break and a
// labelled break out of the switch, an any tag and a string tag.
//
//stackless:tasklet kind=flowtest.cases version=1
func Cases(t *tasklet.Flow, out channel.ID) error {
	var rep []string
	var any1 any = "b"
outer:
	for i := range 8 {
		rep = append(rep, classify(t, i*2))
		y := i + 100
		switch v := i % 4; add(t, v, 1) {
		case add(t, 0, 1):
			rep = append(rep, "one")
		//lint:ignore ST1015 Go runs default only after every case: that is what this tests
		default:
			rep = append(rep, fmt.Sprint("default ", y))
		case add(t, 1, 1), add(t, 2, 1):
			rep = append(rep, fmt.Sprint("two-three ", y))
			if i == 5 {
				break
			}
			if i == 6 {
				break outer
			}
			rep = append(rep, "not broken")
		}
		switch any1 {
		case echoAny(t, "a"):
			rep = append(rep, "a")
		case echoAny(t, "b"):
			rep = append(rep, "b")
			any1 = "c"
		}
	}
	switch w := "go"; w + "!" {
	case fmt.Sprint(add(t, 1, 1)), "go!":
		rep = append(rep, "string tag")
	}
	return t.Send(out, fmt.Sprint(rep))
}

// classify returns from its first clause; the second reads x and n.
func classify(t *tasklet.Flow, n int) string {
	x := n * 10
	switch {
	case add(t, n, 0) > 5:
		return "big"
	case n == 2:
		return fmt.Sprint("two ", x)
	}
	return fmt.Sprint("other ", x)
}

// echoAny hands v back after a point.
func echoAny(t *tasklet.Flow, v any) any {
	_ = t.Yield()
	return v
}
