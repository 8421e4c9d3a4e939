package flowtest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Shares holds locals that share a slice's array or a map across points in
// the ways gen accepts (refuseAliased): read through both, written only
// before the point, or apart by a clone and written after it; and a queue
// window over a slice read as it shrinks.
//
//stackless:tasklet kind=flowtest.shares version=1
func Shares(t *tasklet.Flow, out channel.ID) error {
	all := []int{1, 2, 3, 4}
	rest := all[1:]
	rest[0] = 20 // before any point: both see it, and a save keeps it twice
	sum := 0
	for len(rest) > 0 {
		sum += add(t, rest[0], all[0])
		rest = rest[1:]
	}
	mine := slices.Clone(all)
	seen := map[string]int{"a": 1}
	copied := maps.Clone(seen)
	_ = t.Yield()
	mine[0] = 100
	copied["a"] = 9
	return t.Send(out, fmt.Sprint(all, mine, sum, seen, copied))
}
