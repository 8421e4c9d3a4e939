package p

import (
	"sort"

	"github.com/stackless-go/stackless/tasklet"
)

type route struct{ Steps []int }

func zero(xs []int) {
	for i := range xs {
		xs[i] = 0
	}
}

// sorts writes through sort.Ints.
func sorts(t *tasklet.Flow, r route) error {
	err := t.Yield()
	sort.Ints(r.Steps)
	return err
}

// zeroes writes through a function of the package.
func zeroes(t *tasklet.Flow, r route) error {
	err := t.Yield()
	zero(r.Steps)
	return err
}

// copies writes through copy.
func copies(t *tasklet.Flow, r route) error {
	err := t.Yield()
	copy(r.Steps, []int{9})
	return err
}

// hands hands r on to a flow function that writes it.
func hands(t *tasklet.Flow, r route) error {
	_ = t.Yield()
	return sorts(t, r)
}

// reads only reads: not refused.
func reads(t *tasklet.Flow, r route) int {
	_ = t.Yield()
	return len(r.Steps) + r.Steps[0]
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	r := route{Steps: []int{3, 1, 2}}
	_ = sorts(t, r)
	_ = zeroes(t, r)
	_ = copies(t, r)
	_ = hands(t, r)
	_ = reads(t, r)
	_ = r.Steps[0]
	return nil
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	steps := []int{3, 1, 2}
	_ = zeroes(t, route{Steps: steps[1:]}) // a new route over steps' array
	_ = sortsSlice(t, steps[1:])
	_ = steps[0]
	return nil
}

func sortsSlice(t *tasklet.Flow, s []int) error {
	err := t.Yield()
	sort.Ints(s)
	return err
}

// aliased writes through a local that shares the array.
func aliased(t *tasklet.Flow, r route) error {
	err := t.Yield()
	q := r.Steps[1:]
	q[0] = 7
	return err
}

// rows writes through the rows it ranges over.
func rows(t *tasklet.Flow, g [][]int) error {
	err := t.Yield()
	for _, row := range g {
		row[0] = 0
	}
	return err
}

//stackless:tasklet kind=p.z version=1
func Z(t *tasklet.Flow) error {
	r := route{Steps: []int{3, 1, 2}}
	g := [][]int{{1}, {2}}
	_ = aliased(t, r)
	_ = rows(t, g[1:])
	_, _ = r.Steps[0], g[0]
	return nil
}
