package p

import (
	"github.com/stackless-go/stackless/tasklet"
)

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, v any) error {
	if n := 3; n > 0 {
		defer func() { println(n) }()
	}
	switch w := v.(type) {
	case int:
		defer func() { println(w) }()
	}
	return t.Yield()
}
