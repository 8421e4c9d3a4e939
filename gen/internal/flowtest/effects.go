package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Fetcher asks effect "fetch" for each URL, retries a failed one once,
// and reports each answer (or the failure) on out: the straight-line form
// of a tasklet doing I/O.
//
//stackless:tasklet kind=flowtest.fetcher version=1
func Fetcher(t *tasklet.Flow, urls []string, out channel.ID) error {
	for i, u := range urls {
		v, err := t.Do("fetch", u)
		if err != nil {
			v, err = t.Do("fetch", u)
		}
		page, err := tasklet.As[string](v, err)
		if err != nil {
			if serr := t.Send(out, fmt.Sprintf("%d failed", i)); serr != nil {
				return serr
			}
			continue
		}
		if err := t.Send(out, fmt.Sprintf("%d %s", i, page)); err != nil {
			return err
		}
	}
	return nil
}
