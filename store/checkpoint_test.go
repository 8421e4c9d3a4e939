package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

func openDB(t *testing.T, opts ...store.Option) *store.DB {
	db, err := store.Open(filepath.Join(t.TempDir(), "world.db"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// sameWorld asserts a stored generation holds exactly the records of a
// full encoding of the scheduler now.
func sameWorld(t *testing.T, db *store.DB, reg *pickle.Registry, gen uint64, s *scheduler.Scheduler) {
	t.Helper()
	cp, err := db.Load(gen)
	require.NoError(t, err)
	meta, recs, err := reg.EncodeWorld(s.World())
	require.NoError(t, err)
	assert.Equal(t, meta, cp.Meta, "header of generation %d", gen)
	require.Equal(t, len(recs), len(cp.Records), "records in generation %d", gen)
	slices.SortFunc(recs, func(a, b pickle.Record) int { return bytes.Compare(a.Key, b.Key) })
	for i := range recs {
		assert.Equal(t, recs[i].Key, cp.Records[i].Key)
		assert.Equal(t, recs[i].Value, cp.Records[i].Value, "record %x of generation %d", recs[i].Key, gen)
	}
}

// TestIncrementalCheckpointsResolveToTheWorld checkpoints a running pipeline
// many times, mostly incrementally, and checks after each that the stored
// generation (its chain resolved) equals a full encoding of the world.
func TestIncrementalCheckpointsResolveToTheWorld(t *testing.T) {
	reg := testworld.Registry()
	db := openDB(t, store.WithKeep(0))
	ck := store.NewCheckpointer(db, reg, store.WithFullEvery(5))
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		testworld.Pipeline(s, 60, 3, 10)
		return nil
	})
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; s.Len() > 0; i++ {
		_, err := s.RunBudget(ctx, 7+i%13, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
		require.NoError(t, ck.Checkpoint(s))
		sameWorld(t, db, reg, ck.Last(), s)
	}
	gens, err := db.List()
	require.NoError(t, err)
	incremental := 0
	for _, g := range gens {
		if g.Base != 0 {
			incremental++
		}
	}
	assert.Greater(t, incremental, len(gens)/2, "most checkpoints should be incremental")
}

// TestResumeGivesTheSameResult stops a checkpointing run part way, resumes
// it from the store in a new scheduler and checks the final result.
func TestResumeGivesTheSameResult(t *testing.T) {
	reg := testworld.Registry()
	ctx := context.Background()
	ref := scheduler.New()
	refRes := testworld.Pipeline(ref, 200, 4, 20)
	require.NoError(t, ref.Run(ctx))
	want := testworld.Result(ref, refRes)
	require.NotEmpty(t, want)

	db := openDB(t)
	var res = make(chan uint64, 1)
	ck := store.NewCheckpointer(db, reg, store.WithEvery(50), store.WithAsync())
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		res <- uint64(testworld.Pipeline(s, 200, 4, 20))
		return nil
	})
	require.NoError(t, err)
	assert.Zero(t, ck.Resumed())
	resID := <-res
	_, err = s.RunBudget(ctx, 600, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	require.NoError(t, ck.Close())
	require.NotZero(t, ck.Last(), "WithEvery must have checkpointed")

	ck2 := store.NewCheckpointer(db, reg)
	s2, err := ck2.Resume(func(*scheduler.Scheduler) error {
		t.Fatal("init must not run when the store holds a checkpoint")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, ck.Last(), ck2.Resumed())
	require.NoError(t, s2.Run(ctx))
	assert.Equal(t, want, testworld.Result(s2, channelID(resID)))
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	reg := testworld.Registry()
	s := scheduler.New()
	res := testworld.Pipeline(s, 30, 2, 5)
	_, err := s.RunBudget(context.Background(), 40, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "w.snap")
	require.NoError(t, store.SaveFile(path, reg, s))
	ok, err := store.IsSnapshotFile(path)
	require.NoError(t, err)
	assert.True(t, ok)
	w, err := store.LoadFile(path, reg)
	require.NoError(t, err)
	s2, err := scheduler.Restore(w)
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.NoError(t, s2.Run(context.Background()))
	assert.Equal(t, testworld.Result(s, res), testworld.Result(s2, res))
}

func TestUnknownKindInStoreNamesIt(t *testing.T) {
	db := openDB(t)
	ck := store.NewCheckpointer(db, testworld.Registry())
	s := scheduler.New()
	testworld.Pipeline(s, 3, 1, 1)
	require.NoError(t, ck.Checkpoint(s))
	_, err := store.Restore(db, pickle.NewRegistry(), 0)
	require.ErrorIs(t, err, pickle.ErrUnknownKind)
	assert.Contains(t, err.Error(), "testworld.feeder")
	assert.Contains(t, err.Error(), "generation 1")
}

// TestBigWorldCheckpoints checkpoints a world big enough to be encoded and
// decoded on two goroutines in many chunks, full and incremental (with
// killed tasklets), and checks every generation against a plain encoding
// and a restore against the original.
func TestBigWorldCheckpoints(t *testing.T) {
	reg := testworld.Registry()
	db := openDB(t, store.WithKeep(0))
	ck := store.NewCheckpointer(db, reg, store.WithFullEvery(3))
	s := scheduler.New(scheduler.WithChangeTracking())
	chans := testworld.Entities(s, 6000) // 12,000 records: ~6 chunks
	require.NoError(t, ck.Checkpoint(s))
	sameWorld(t, db, reg, ck.Last(), s)

	infos := s.Tasklets()
	for round := range 4 { // full, incremental, incremental, full
		for i := round; i < len(chans); i += 37 {
			s.Post(chans[i], round)
		}
		for i := round; i < len(infos); i += 101 {
			require.NoError(t, s.Kill(infos[i].ID, true))
		}
		require.NoError(t, s.Tick())
		require.NoError(t, ck.Checkpoint(s))
		sameWorld(t, db, reg, ck.Last(), s)
	}
	assert.Less(t, s.Len(), len(infos), "tasklets were killed")
	gens, err := db.List()
	require.NoError(t, err)
	require.Len(t, gens, 5)
	assert.NotZero(t, gens[2].Deleted, "killed tasklets are tombstones in an incremental generation")

	restored, err := store.Restore(db, reg, 0)
	require.NoError(t, err)
	assert.Equal(t, s.Len(), restored.Len())
	wantMeta, want, err := reg.EncodeWorld(s.World())
	require.NoError(t, err)
	gotMeta, got, err := reg.EncodeWorld(restored.World())
	require.NoError(t, err)
	assert.Equal(t, wantMeta, gotMeta)
	assert.Equal(t, want, got, "restored world")
}

func TestCheckpointRecordLimit(t *testing.T) {
	db := openDB(t, store.WithMaxRecord(16))
	ck := store.NewCheckpointer(db, testworld.Registry())
	s := scheduler.New()
	testworld.Entities(s, 3)
	err := ck.Checkpoint(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tasklet ")
	assert.Contains(t, err.Error(), "over the 16-byte limit; raise it with store.WithMaxRecord")
	gens, err := db.List()
	require.NoError(t, err)
	assert.Empty(t, gens, "nothing is stored")
}

// An asynchronous checkpoint that fails is reported by the next
// Checkpoint, which says so: gameai's "autosave at tick 200: ... no space
// left on device" read as if the save of tick 100 had been stored.
func TestAFailedBackgroundCheckpointIsReportedAsEarlier(t *testing.T) {
	db := openDB(t)
	ck := store.NewCheckpointer(db, testworld.Registry(), store.WithAsync())
	s := scheduler.New()
	testworld.Pipeline(s, 10, 2, 5)
	require.NoError(t, db.Close()) // the background write fails
	require.NoError(t, ck.Checkpoint(s), "queued, not written yet")
	first := ck.Flush()
	require.Error(t, first)
	err := ck.Checkpoint(s)
	require.Error(t, err)
	assert.ErrorIs(t, err, first)
	assert.Contains(t, err.Error(), "an earlier checkpoint, written in the background, failed")
	assert.Equal(t, first, ck.Close())
}

// A world's header lists every runnable tasklet and timer: with enough of
// them it is over the registry's record limit, and is checkpointed and
// restored all the same (it is bounded as a world).
func TestAHeaderOverTheRecordLimitIsCheckpointed(t *testing.T) {
	reg := testworld.Registry()
	reg.SetMaxRecord(300)
	db := openDB(t)
	ck := store.NewCheckpointer(db, reg)
	s := scheduler.New()
	for i := range 300 { // spawned, not run: 300 entries in the run queue
		s.Spawn(&testworld.Entity{In: s.NewChannel(0), HP: int32(i)})
	}
	h, err := reg.DumpHeader(s.WorldHeader())
	require.NoError(t, err)
	require.Greater(t, len(h), 300, "the header is over the record limit")
	require.NoError(t, ck.Checkpoint(s))
	restored, err := store.Restore(db, reg, 0)
	require.NoError(t, err)
	assert.Equal(t, s.RunQueue(), restored.RunQueue())
}
