package scheduler_test

// Conformance tests: one test (or table) per rule of DESIGN.md "Semantics",
// following what Stackless's own suites check (reference/stackless.md §3).
// The conformance_*_test.go files hold them by topic; this file holds the
// tasklet behaviours that several of them share.

import (
	"errors"

	"github.com/stackless-go/stackless/tasklet"
)

// yieldN logs name0..name(n-1), yielding after each, then exits.
func yieldN(l *logger, name string, n int) tasklet.Behavior {
	i := 0
	return fn(func(t *tasklet.T) tasklet.Op {
		if i == n {
			return t.Exit()
		}
		l.add("%s%d", name, i)
		i++
		return t.Yield()
	})
}

// blockOnce does op at its first step and exits at the second, ignoring
// whatever was delivered (so a kill ends it).
func blockOnce(op func(t *tasklet.T) tasklet.Op) tasklet.Behavior {
	return steps(op, exit)
}

var errBoom = errors.New("boom")

// busyN returns Continue n times, then exits.
func busyN(n int) tasklet.Behavior {
	return fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() > uint64(n) {
			return t.Exit()
		}
		return t.Continue()
	})
}

type panicker struct{ At uint64 }

func (p *panicker) Step(t *tasklet.T) tasklet.Op {
	if t.Steps() == p.At {
		panic("kaboom")
	}
	return t.Yield()
}
