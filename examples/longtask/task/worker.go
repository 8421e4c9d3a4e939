package task

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Work is worker `first` of `stride`: it fetches documents first,
// first+stride, ... below docs from the document server (the effect
// EffectFetch), counts the words of each and sends the Tally on out. Each
// worker has its own documents, so a worker asks for the same documents at
// the same steps in every run: after a restore, each repeated call has the
// key of the original one and the effect journal answers it.
//
//stackless:tasklet kind=longtask.worker version=2
func Work(t *tasklet.Flow, first, stride, docs int, seed uint64, out channel.ID) error {
	for n := first; n < docs; n += stride {
		v, err := t.Do(EffectFetch, DocRequest{Seed: seed, N: n})
		text, err := tasklet.As[string](v, err)
		if err != nil {
			return fmt.Errorf("worker %d: document %d: %w", first, n, err)
		}
		if err := t.Send(out, Count(Doc{N: n, Text: text})); err != nil {
			return fmt.Errorf("worker %d: document %d: %w", first, n, err)
		}
	}
	return nil
}
