package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Variadic calls variadic flows with no elements, with some (packed into a
// new slice, as Go does) and with a slice and ..., which shares the
// caller's array (linked); a tasklet takes names ...string; tell's args
// ...any and visit's func parameter are read only before their function's
// first point, so they need no save (unsaved parameters).
//
//stackless:tasklet kind=flowtest.variadic version=1
func Variadic(t *tasklet.Flow, out channel.ID, names ...string) error {
	nums := []int{4, 5}
	a := total(t)
	b := total(t, 1, 2, 3)
	c := total(t, nums...)
	scaleAll(t, 10, nums...)
	scaleEach(t, 3, a, b)
	seen := 0
	seen += visit(t, nums, func(x int) { seen += x % 7 })
	_ = tell(t, out, "%d %d %d %v %v %d %d", a, b, c, nums, names, len(names), seen)
	return tell(t, out, "done")
}

func tell(t *tasklet.Flow, out channel.ID, format string, args ...any) error {
	return t.Send(out, fmt.Sprintf(format, args...))
}

// total keeps its elements across points and appends to them.
func total(t *tasklet.Flow, xs ...int) int {
	n := 0
	for _, x := range xs {
		_ = t.Yield()
		n += x
	}
	xs = append(xs, n)
	return n + len(xs)
}

// scaleAll writes through its elements: called only with nums..., it
// shares the caller's array.
func scaleAll(t *tasklet.Flow, k int, xs ...int) {
	for i := range xs {
		_ = t.Yield()
		xs[i] *= k
	}
}

// scaleEach writes its own packed slice.
func scaleEach(t *tasklet.Flow, k int, xs ...int) {
	for i := range xs {
		_ = t.Yield()
		xs[i] *= k
	}
}

// visit calls f before its first point only.
func visit(t *tasklet.Flow, xs []int, f func(int)) int {
	for _, x := range xs {
		f(x)
	}
	_ = t.Yield()
	return len(xs)
}
