package flowtest

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Fetcher asks effect "fetch" for each URL, retries a failed one once,
// and reports each answer (or the failure, and whether it was a missing
// page) on out: the straight-line form of a tasklet doing I/O.
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
			// The error waited in the tasklet's record since the call
			// ended: in the restored run it went through a save.
			missing := errors.Is(err, fs.ErrNotExist)
			if serr := t.Send(out, fmt.Sprintf("%d failed (missing: %v)", i, missing)); serr != nil {
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
