package flowtest

import (
	"fmt"
	"strconv"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Recursion calls flow functions that call themselves or each other, each
// call's frame held by its caller through a pointer: a tree walked depth
// first with a send a node, a sort in place whose slice parameter links
// through every level, a merge sort handing back new slices, mutual
// recursion (odd and even), a method parsing nested lists from a channel,
// and Countdown, a tasklet that calls itself.
//
//stackless:tasklet kind=flowtest.recursion version=1
func Recursion(t *tasklet.Flow, out channel.ID) error {
	root := tree{V: 1, Kids: []tree{{V: 2, Kids: []tree{{V: 4}, {V: 5}}}, {V: 3, Kids: []tree{{V: 6, Kids: []tree{{V: 7}}}}}}}
	sum := walk(t, out, root, 0)
	xs := []int{5, 9, 1, 7, 3, 8, 2}
	quick(t, xs, 0, len(xs)-1)
	ys := merge(t, []int{4, 2, 6, 1, 5, 3})
	n := fall(t, 7)
	toks := t.NewChannel(16)
	for _, s := range []string{"(", "1", "(", "2", "3", ")", "(", "(", "4", ")", ")", "5", ")"} {
		if err := t.Send(toks, s); err != nil {
			return err
		}
	}
	first, err := t.Recv(toks)
	if err != nil {
		return err
	}
	v := lists{}.expr(t, toks, first.(string))
	return t.Send(out, fmt.Sprint("sum ", sum, " quick ", xs, " merge ", ys, " fall ", n, " lists ", v))
}

type tree struct {
	V    int
	Kids []tree
}

// walk sends each node's value with its depth, and sums them.
func walk(t *tasklet.Flow, out channel.ID, n tree, depth int) int {
	if err := t.Send(out, fmt.Sprint(depth, ":", n.V)); err != nil {
		return 0
	}
	total := n.V
	for _, k := range n.Kids {
		total += walk(t, out, k, depth+1)
	}
	return total
}

// quick sorts a[lo:hi+1] in place: a is the caller's array at every
// level (a linked parameter), so the writes of the deepest call reach the
// top across restores.
func quick(t *tasklet.Flow, a []int, lo, hi int) {
	if lo >= hi {
		return
	}
	p := a[hi]
	i := lo
	for j := lo; j < hi; j++ {
		if a[j] < p {
			a[i], a[j] = a[j], a[i]
			i++
		}
	}
	a[i], a[hi] = a[hi], a[i]
	quick(t, a, lo, i-1)
	_ = t.Yield()
	quick(t, a, i+1, hi)
}

// merge returns xs sorted, in a new slice (the base case hands back its
// argument).
func merge(t *tasklet.Flow, xs []int) []int {
	if len(xs) < 2 {
		return xs
	}
	mid := len(xs) / 2
	l := merge(t, xs[:mid])
	_ = t.Yield()
	r := merge(t, xs[mid:])
	out := make([]int, 0, len(xs))
	for len(l) > 0 && len(r) > 0 {
		if l[0] <= r[0] {
			out, l = append(out, l[0]), l[1:]
		} else {
			out, r = append(out, r[0]), r[1:]
		}
	}
	return append(append(out, l...), r...)
}

// fall and odd call each other down to 0, yielding on the way: the
// answer counts the calls, as the locals kept across them show.
func fall(t *tasklet.Flow, n int) int {
	if n <= 0 {
		_ = t.Yield()
		return 0
	}
	k := n * 10
	return odd(t, n-1) + k/10
}

func odd(t *tasklet.Flow, n int) int {
	_ = t.Yield()
	return fall(t, n) * 2
}

type lists struct{ Depth int }

// expr reads one item: a number, or a list up to ")", which it sums and
// scales by its depth.
func (l lists) expr(t *tasklet.Flow, toks channel.ID, tok string) int {
	if tok != "(" {
		n, _ := strconv.Atoi(tok)
		return n
	}
	sum := 0
	for {
		x, err := t.Recv(toks)
		if err != nil || x.(string) == ")" {
			return sum * (l.Depth + 1)
		}
		sum += lists{Depth: l.Depth + 1}.expr(t, toks, x.(string))
	}
}

// Countdown is a tasklet that calls itself: each level sends on its way
// up, after the levels below it.
//
//stackless:tasklet kind=flowtest.countdown version=1
func Countdown(t *tasklet.Flow, out channel.ID, n int) error {
	if n == 0 {
		return t.Send(out, "bottom") // where: Countdown sends at the bottom
	}
	m := n * 10
	if err := Countdown(t, out, n-1); err != nil { // where: Countdown calls itself
		return err
	}
	return t.Send(out, fmt.Sprint("up ", m))
}

// Dive recurses deep and returns, then recurses shallow and waits there:
// the frames kept from the deep call for the next one are zero, so a save
// at the shallow wait leaves them out.
//
//stackless:tasklet kind=flowtest.dive version=1
func Dive(t *tasklet.Flow, out channel.ID, deep, shallow int) error {
	a := dive(t, deep, false)
	b := dive(t, shallow, true)
	return t.Send(out, a*1000+b)
}

func dive(t *tasklet.Flow, k int, wait bool) int {
	if k == 0 {
		if wait {
			_ = t.Yield()
		}
		return 0
	}
	return dive(t, k-1, wait) + 1
}
