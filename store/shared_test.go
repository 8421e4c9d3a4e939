package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

type board struct{ Alarm bool }

// sentry watches a board that its squad shares by pointer.
type sentry struct {
	Board *board
	Seen  int
}

func (s *sentry) Step(t *tasklet.T) tasklet.Op { s.Seen++; return t.Sleep(1) }

// checkpointSentries checkpoints a world of sentries, the first and the
// last sharing a board and `others` between them with boards of their own,
// and asserts the checkpoint is refused, naming the board, with nothing
// stored.
func checkpointSentries(t *testing.T, others int) {
	t.Helper()
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("sentry", 1, &sentry{}))
	db := openDB(t)
	ck := store.NewCheckpointer(db, reg)
	s := scheduler.New()
	shared := &board{}
	s.Spawn(&sentry{Board: shared})
	for range others {
		s.Spawn(&sentry{Board: &board{}})
	}
	s.Spawn(&sentry{Board: shared})
	err := ck.Checkpoint(s)
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "store_test.sentry.Board is also held by tasklet")
	gens, err := db.List()
	require.NoError(t, err)
	assert.Empty(t, gens, "nothing is stored")
}

// A checkpoint of tasklets sharing state by pointer would resume with a
// board each: it is refused, naming the tasklets, and nothing is stored.
func TestCheckpointRefusesStateSharedByTasklets(t *testing.T) { checkpointSentries(t, 0) }

// A world big enough to be encoded on two goroutines: the first and the
// last tasklets, likely written by different goroutines, share a board.
func TestBigCheckpointRefusesStateSharedAcrossItsGoroutines(t *testing.T) {
	checkpointSentries(t, 20_000)
}
