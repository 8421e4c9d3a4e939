package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Typed keeps locals of types declared in its body across points, one of
// them in a nested block, one a slice of another (gen declares them at
// package level for the frame).
//
//stackless:tasklet kind=flowtest.typed version=1
func Typed(t *tasklet.Flow, out channel.ID) error {
	type hit struct {
		From string
		Dmg  int
	}
	type hits []hit
	var l hits
	for i := range 3 {
		d := add(t, i, 2)
		l = append(l, hit{From: fmt.Sprint("m", i), Dmg: d})
	}
	{
		type score struct{ N, Sum int }
		var s score
		for _, h := range l {
			_ = t.Yield()
			s.N++
			s.Sum += h.Dmg
		}
		return t.Send(out, fmt.Sprint(l, s))
	}
}
