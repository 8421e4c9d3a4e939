package flowtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Closures captures saved locals in function literals that run within
// their statement (checkClosures): sort.Slice, slices.SortFunc, strings.Map
// and a rand.Rand's Shuffle over saved values, literals called at once,
// bound to a local and called, handed to a function of the package that
// only calls them (directly or through sort.Slice), ranged over, nested,
// recursive through its local, writing an error and an any, in a called
// flow too; a point between every use.
//
//stackless:tasklet kind=flowtest.closures version=1
func Closures(t *tasklet.Flow, out channel.ID) error {
	xs := []int{5, 3, 8}
	total := 0
	shift := rune(1)
	word := "hal"
	var err error
	var last any
	for i := range 3 {
		_ = t.Yield()
		xs = append(xs, i*7%5)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(xs), func(a, b int) { xs[a], xs[b] = xs[b], xs[a] })
		sort.Slice(xs, func(a, b int) bool { return xs[a] > xs[b] })
		slices.SortFunc(xs, func(a, b int) int { return (a+i)%3 - (b+i)%3 })
		word = strings.Map(func(r rune) rune { return r + shift }, word)
		func() { total += xs[0] * (i + 1) }()
		bump := func(k int) { total += k; last = k }
		bump(i)
		_ = t.Yield()
		//lint:ignore S1021 a literal assigned to a declared local, not defined with it
		var again func(int)
		again = func(k int) { total += 2 * k }
		again(len(xs))
		each(xs, func(x int) {
			if x > 6 {
				err = errors.Join(err, fmt.Errorf("%d too big", x))
			}
		})
		byKey(xs, func(a, b int) bool { return a%4 < b%4 })
		for v := range func(yield func(int) bool) {
			for _, x := range xs {
				if !yield(x + total) {
					return
				}
			}
		} {
			total += v % 7
		}
		var walk func(int) // a literal calling itself through its local
		walk = func(k int) {
			total += k
			if k > 0 {
				walk(k - 1)
			}
		}
		walk(i + 2)
		total += weigh(t, xs, shift)
		shift++
	}
	return t.Send(out, fmt.Sprint(xs, total, word, err, last))
}

// each calls f on every element: it does nothing else with f.
func each(xs []int, f func(int)) {
	for _, x := range xs {
		f(x)
	}
}

// byKey hands less on to sort.SliceStable, which only calls it.
func byKey(xs []int, less func(a, b int) bool) {
	sort.SliceStable(xs, func(i, j int) bool { return less(xs[i], xs[j]) })
}

// weigh is a called flow whose literal captures its own saved locals.
func weigh(t *tasklet.Flow, xs []int, by rune) int {
	n := 0
	for _, x := range xs {
		_ = t.Yield()
		add := func() { n += x * int(by) }
		add()
	}
	return n
}
