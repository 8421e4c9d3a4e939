package p

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

var _ channel.ID

// X filters in place: kept appends into all's array, which a restore
// would part from kept.
//
//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	all := []int{1, 2, 3, 4}
	kept := all[:0]
	for _, v := range all {
		_ = t.Yield()
		if v%2 == 0 {
			kept = append(kept, v)
		}
	}
	fmt.Println(all, kept)
	return nil
}

// Y is not refused: no alias is cut short, so appends land beyond every
// length that a read sees.
//
//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow) error {
	base := make([]int, 2, 8)
	more := append(base, 1)
	_ = t.Yield()
	more = append(more, 2)
	fmt.Println(base, more)
	return nil
}

// firstN appends into its parameter's array through a prefix of it; the
// caller keeps that array.
func firstN(t *tasklet.Flow, p []int, n int) []int {
	kept := p[:0]
	for i := range n {
		_ = t.Yield()
		kept = append(kept, i*10)
	}
	return kept
}

//stackless:tasklet kind=p.z version=1
func Z(t *tasklet.Flow) error {
	all := []int{1, 2, 3, 4}
	e := firstN(t, all[:], 2)
	fmt.Println(all, e)
	return nil
}
