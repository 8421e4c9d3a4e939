package p

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// zero writes through the rows it is handed, after a point.
func zero(t *tasklet.Flow, rows ...[]int) {
	for _, r := range rows {
		_ = t.Yield()
		r[0] = 0
	}
}

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	a, b := []int{1}, []int{2}
	zero(t, a, b)
	fmt.Println(a, b)
	return nil
}
