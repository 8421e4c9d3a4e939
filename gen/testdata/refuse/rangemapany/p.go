package p

import (
	"github.com/stackless-go/stackless/tasklet"
)

func build() map[any]int { return map[any]int{1: 1} }

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	// The keys would be saved as []any, without their types: a restored
	// loop would look up an int8 where the map holds an int.
	for k := range build() {
		_ = t.Send(1, k)
	}
	return nil
}
