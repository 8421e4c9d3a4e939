package store

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
)

// checkpointedRun runs the test pipeline to its end on a new database at
// path, checkpointing every 40 steps, and returns its result, the
// channel it reads it from and the generations stored, with the database closed.
func checkpointedRun(t *testing.T, path string, opts ...CheckpointOption) (string, channel.ID, []GenInfo) {
	t.Helper()
	db, err := Open(path, WithKeep(0))
	require.NoError(t, err)
	var res channel.ID
	ck := NewCheckpointer(db, testworld.Registry(), append([]CheckpointOption{WithEvery(40)}, opts...)...)
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		res = testworld.Pipeline(s, 120, 2, 5)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	want := testworld.Result(s, res)
	gens, err := db.List()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(gens), 3, "WithEvery checkpointed during the run")
	require.NoError(t, db.Close())
	return want, res, gens
}

// A damaged newest checkpoint made Resume fail, though the generation
// before it was intact: a long task could not go on at all, and its error
// told the user of a --gen flag the task did not have. Resume now passes
// over damaged generations, newest first, says which (Damaged), and the
// run ends as an unbroken one does; its next checkpoint is a full one, not
// built on the damaged generation.
func TestResumePassesOverADamagedNewestGeneration(t *testing.T) {
	ctx := context.Background()
	reg := testworld.Registry()
	path := filepath.Join(t.TempDir(), "world.db")
	want, res, gens := checkpointedRun(t, path)
	newest := gens[len(gens)-1].Gen

	// The newest generation and the one before it are damaged.
	boltEdit(t, path, flipValue(bucketMeta, genKey(newest), 6))
	boltEdit(t, path, flipValue(bucketMeta, genKey(newest-1), 6))

	db, err := Open(path, WithKeep(0))
	require.NoError(t, err)
	defer db.Close()
	ck := NewCheckpointer(db, reg)
	s, err := ck.Resume(func(*scheduler.Scheduler) error {
		t.Fatal("init must not run when the DB holds a run")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, newest-2, ck.Resumed(), "the newest intact generation")
	require.Len(t, ck.Damaged(), 2)
	for i, err := range ck.Damaged() {
		assert.ErrorIs(t, err, ErrCorrupt)
		assert.ErrorContains(t, err, "generation "+strconv.FormatUint(newest-uint64(i), 10)+" of "+path)
	}
	require.NoError(t, s.Run(ctx))
	assert.Equal(t, want, testworld.Result(s, res), "the run ends as the unbroken one did")

	require.NoError(t, ck.Checkpoint(s))
	gens, err = db.List()
	require.NoError(t, err)
	last := gens[len(gens)-1]
	assert.Equal(t, newest+1, last.Gen)
	assert.Zero(t, last.Base, "a full checkpoint, not one on a damaged base")
}

func TestResumeWhenEveryGenerationIsDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	_, _, gens := checkpointedRun(t, path)
	for _, g := range gens {
		boltEdit(t, path, flipValue(bucketMeta, genKey(g.Gen), 6))
	}

	db, err := Open(path)
	require.NoError(t, err)
	defer db.Close()
	_, err = NewCheckpointer(db, testworld.Registry()).Resume(nil)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "generation "+strconv.FormatUint(gens[len(gens)-1].Gen, 10)+" of "+path)
	assert.ErrorContains(t, err, "(none is: all "+strconv.Itoa(len(gens))+" generations of "+path+" are damaged)")
}

// Passing over damaged generations must not make an old one's damage
// everyone's: a damaged header of the oldest generation leaves Resume of
// the newest as it was.
func TestResumeIgnoresAnOldDamagedHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	_, _, gens := checkpointedRun(t, path, WithFullEvery(1)) // none builds on the damaged one
	boltEdit(t, path, flipValue(bucketGens, genKey(gens[0].Gen), 12))

	db, err := Open(path, WithKeep(0))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.List()
	require.ErrorIs(t, err, ErrCorrupt, "the damage is there")
	ck := NewCheckpointer(db, testworld.Registry())
	_, err = ck.Resume(nil)
	require.NoError(t, err)
	assert.Equal(t, gens[len(gens)-1].Gen, ck.Resumed())
	assert.Empty(t, ck.Damaged())
}
