package game

import (
	"fmt"
	"hash/fnv"

	"github.com/stackless-go/stackless/pickle"
)

// Fingerprint hashes the whole state of the game as a save would store it:
// every tasklet (its kind, its exported fields and the scheduler's
// bookkeeping), every channel with its buffered messages, the run queue and
// the clock, in ID order. Two games with the same fingerprint play on
// identically.
func (g *Game) Fingerprint(reg *pickle.Registry) (uint64, error) {
	meta, recs, err := reg.EncodeWorld(g.Sched.World())
	if err != nil {
		return 0, fmt.Errorf("gameai: fingerprint: %w", err)
	}
	h := fnv.New64a()
	h.Write(meta)
	for _, r := range recs {
		h.Write(r.Key)
		h.Write(r.Value)
	}
	return h.Sum64(), nil
}
