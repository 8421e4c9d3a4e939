package p

import "github.com/stackless-go/stackless/tasklet"

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow) error {
	return t.Yield()
}

//stackless:tasklet kind=p.x version=1
func Y(t *tasklet.Flow) error {
	return t.Yield()
}
