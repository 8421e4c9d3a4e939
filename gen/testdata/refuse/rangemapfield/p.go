package p

import (
	"github.com/stackless-go/stackless/tasklet"
)

type squad struct {
	Name string
	HP   map[string]int
}

//stackless:tasklet kind=p.y version=1
func Y(t *tasklet.Flow, sq squad) error {
	// The body assigns the field the loop ranges over.
	for k := range sq.HP {
		_ = t.Send(1, k)
		sq.HP = nil
	}
	// Entries and other fields may change: not refused.
	for k := range sq.HP {
		_ = t.Send(1, k)
		sq.HP[k] = 1
		sq.Name = k
	}
	return nil
}
