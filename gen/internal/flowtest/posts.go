package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Posts suspends in for loops' post statements: nested loops that both
// suspend there, continue and break of each (unlabelled, labelled, from a
// switch inside), and a loop with no condition.
//
//stackless:tasklet kind=flowtest.posts version=1
func Posts(t *tasklet.Flow, out channel.ID) error {
	var rep []string
outer:
	for i := 0; i < 7; i = add(t, i, 1) {
		if i == 1 {
			continue
		}
		for j := 0; j < 3; j += add(t, 1, 0) {
			if j == 1 {
				continue
			}
			if i == 4 && j == 2 {
				continue outer
			}
			rep = append(rep, fmt.Sprint(i, j))
		}
		switch i {
		case 3:
			continue
		case 5:
			//lint:ignore SA4011 a break of the switch, not of the loop, is what this tests
			break
		}
		if i == 6 {
			break
		}
		rep = append(rep, fmt.Sprint("end", i))
	}
	n := 0
	for k := 10; ; k = halve(t, k) {
		if k == 0 {
			break
		}
		n++
	}
	return t.Send(out, fmt.Sprint(rep, n))
}

// halve hands back k/2 after a point.
func halve(t *tasklet.Flow, k int) int {
	_ = t.Yield()
	return k / 2
}
