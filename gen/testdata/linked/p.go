// Package p holds calls that make gen save locals nothing reads after
// (linked parameters), two of them with one name: the fields gen names
// for them must come out the same on every run.
package p

import "github.com/stackless-go/stackless/tasklet"

func fill(t *tasklet.Flow, b []int) error {
	err := t.Yield()
	b[0] = 1
	return err
}

func bump(t *tasklet.Flow, m map[string]int) error {
	err := t.Yield()
	m["a"]++
	return err
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	{
		buf := []int{0}
		if err := fill(t, buf); err != nil {
			return err
		}
	}
	{
		buf := []int{0, 0}
		if err := fill(t, buf); err != nil {
			return err
		}
	}
	m := map[string]int{}
	n := map[string]int{}
	if err := bump(t, n); err != nil {
		return err
	}
	return bump(t, m)
}
