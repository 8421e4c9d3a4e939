package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// counter counts its steps, yielding between them.
type counter struct{ N int }

func (c *counter) Step(t *tasklet.T) tasklet.Op {
	c.N++
	return t.Yield()
}

// asyncWorld is a Checkpointer WithAsync over a new database and a
// scheduler of 100 counters, and a step function that runs 10 steps.
func asyncWorld(t *testing.T) (*DB, *Checkpointer, *scheduler.Scheduler, func()) {
	t.Helper()
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("test.counter", 1, &counter{}))
	db, err := Open(filepath.Join(t.TempDir(), "async.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c := NewCheckpointer(db, reg, WithAsync())
	t.Cleanup(func() { _ = c.Close() })
	s, err := c.Resume(func(s *scheduler.Scheduler) error {
		for range 100 {
			s.Spawn(&counter{})
		}
		return nil
	})
	require.NoError(t, err)
	step := func() {
		_, err := s.RunBudget(context.Background(), 10, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
	}
	return db, c, s, step
}

// faultCommits sets commitFault for the test: each commit waits for a
// token from the returned channel and fails with what the token holds.
func faultCommits(t *testing.T) chan error {
	t.Helper()
	tokens := make(chan error)
	commitFault = func(bool) error { return <-tokens }
	t.Cleanup(func() { commitFault = nil })
	return tokens
}

// With WithAsync, a checkpoint taken while the first full one was still
// being written was full too (nothing was written yet), and so was every
// one after until a write landed: a million-entity game saved 950 MB each
// time where an increment was 12 MB. The first full one, queued, is base
// enough.
func TestAsyncCheckpointsBuildOnAQueuedFullOne(t *testing.T) {
	db, c, s, step := asyncWorld(t)
	tokens := faultCommits(t)
	require.NoError(t, c.Checkpoint(s)) // the writer takes it and waits
	step()
	require.NoError(t, c.Checkpoint(s))
	step()
	require.NoError(t, c.Checkpoint(s))
	for range 3 {
		tokens <- nil
	}
	require.NoError(t, c.Flush())

	gens, err := db.List()
	require.NoError(t, err)
	require.Len(t, gens, 3)
	assert.Equal(t, uint64(0), gens[0].Base, "the first is full")
	assert.Equal(t, gens[0].Gen, gens[1].Base, "the second builds on the first")
	assert.Equal(t, gens[1].Gen, gens[2].Base, "the third on the second")
	assert.Less(t, gens[2].Records, 100+1, "only the changed tasklets")

	w, _, err := LoadWorld(db, c.reg, 0)
	require.NoError(t, err)
	assert.Equal(t, s.Steps(), w.Steps, "the newest generation holds the world as it was")
	assert.Len(t, w.Tasklets, 100)
}

// A checkpoint queued behind one whose write failed holds only the changes
// since that one. It was written anyway, on the generation before, and
// loaded as a world missing the failed one's changes, without a word.
func TestAsyncIncrementBehindAFailedWriteIsNotStored(t *testing.T) {
	db, c, s, step := asyncWorld(t)
	require.NoError(t, c.Checkpoint(s)) // stored: generation 1
	require.NoError(t, c.Flush())
	tokens := faultCommits(t)
	step()
	require.NoError(t, c.Checkpoint(s)) // the writer takes it and waits
	step()
	require.NoError(t, c.Checkpoint(s)) // queued behind it
	tokens <- errors.New("no space left on device")
	close(tokens) // the rest would succeed

	err := c.Flush()
	require.Error(t, err)
	assert.ErrorContains(t, err, "no space left on device")
	gens, err := db.List()
	require.NoError(t, err)
	require.Len(t, gens, 1, "only generation 1: the increment after the failure has no base")
	assert.Error(t, c.Checkpoint(s), "a Checkpointer whose write failed takes no more")
}
