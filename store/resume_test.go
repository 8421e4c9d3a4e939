package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// pipelineRun sets up the test pipeline and reports its result channel.
func pipelineRun(res *channel.ID) func(*scheduler.Scheduler) error {
	return func(s *scheduler.Scheduler) error {
		*res = testworld.Pipeline(s, 120, 2, 5)
		return nil
	}
}

// TestResumeTellsFreshResumedAndFinished runs one program three times on
// one DB, as a user does: a fresh start that runs to the end, a rerun that
// resumes (Run took no final checkpoint, so the newest one is mid-run), and,
// once the end state is checkpointed, a rerun that is told the world is
// finished, reads its result, and starts over.
func TestResumeTellsFreshResumedAndFinished(t *testing.T) {
	ctx := context.Background()
	reg := testworld.Registry()
	path := filepath.Join(t.TempDir(), "world.db")
	db, err := store.Open(path, store.WithKeep(0))
	require.NoError(t, err)
	defer db.Close()

	// 1. Fresh: init runs, Resumed is 0.
	var res channel.ID
	ck := store.NewCheckpointer(db, reg, store.WithEvery(40))
	s, err := ck.Resume(pipelineRun(&res))
	require.NoError(t, err)
	assert.Zero(t, ck.Resumed(), "a fresh start")
	require.NoError(t, s.Run(ctx))
	want := testworld.Result(s, res)
	require.NotEmpty(t, want)
	require.NotZero(t, ck.Last(), "WithEvery checkpointed during the run")
	lastAuto := ck.Last()

	// Run returning took no checkpoint: the newest one still has work left.
	latest, err := db.Latest()
	require.NoError(t, err)
	assert.Equal(t, lastAuto, latest, "Run takes no checkpoint when it returns")
	w, _, err := store.LoadWorld(db, reg, 0)
	require.NoError(t, err)
	assert.NotEmpty(t, w.Tasklets, "the newest checkpoint is from before the end")

	// 2. Resumed: the rerun goes on from there and ends the same.
	ck2 := store.NewCheckpointer(db, reg)
	s2, err := ck2.Resume(func(*scheduler.Scheduler) error {
		t.Fatal("init must not run when the DB holds a run")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, lastAuto, ck2.Resumed())
	require.NoError(t, s2.Run(ctx))
	assert.Equal(t, want, testworld.Result(s2, res))
	require.NoError(t, ck2.Checkpoint(s2), "store the end state")
	finished := ck2.Last()

	// 3. Finished: Resume says so instead of resuming an empty world.
	ck3 := store.NewCheckpointer(db, reg)
	s3, err := ck3.Resume(func(*scheduler.Scheduler) error {
		t.Fatal("init must not run when the DB holds a finished run")
		return nil
	})
	require.ErrorIs(t, err, store.ErrFinished)
	assert.Nil(t, s3)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "Restart")
	assert.Equal(t, finished, ck3.Resumed(), "Resumed names the finished generation")
	done, err := store.Restore(db, reg, ck3.Resumed())
	require.NoError(t, err)
	assert.Equal(t, want, testworld.Result(done, res), "the finished world still holds the result")

	// Starting over: a new run, stored at once, which a rerun resumes.
	var res4 channel.ID
	s4, err := ck3.Restart(pipelineRun(&res4))
	require.NoError(t, err)
	assert.Zero(t, ck3.Resumed())
	require.Greater(t, ck3.Last(), finished, "Restart checkpointed the new run")
	gens, err := db.List()
	require.NoError(t, err)
	assert.Zero(t, gens[len(gens)-1].Base, "the restart's checkpoint is a full one")
	_, err = s4.RunBudget(ctx, 50, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)

	ck5 := store.NewCheckpointer(db, reg)
	s5, err := ck5.Resume(nil)
	require.NoError(t, err, "after a restart the newest checkpoint is the new run")
	assert.Equal(t, ck3.Last(), ck5.Resumed())
	require.NoError(t, s5.Run(ctx))
	assert.Equal(t, want, testworld.Result(s5, res4))
}

func TestCheckpointAfterCloseFails(t *testing.T) {
	for _, async := range []bool{false, true} {
		reg := testworld.Registry()
		db := openDB(t)
		var opts []store.CheckpointOption
		if async {
			opts = append(opts, store.WithAsync())
		}
		ck := store.NewCheckpointer(db, reg, opts...)
		s, err := ck.Resume(func(s *scheduler.Scheduler) error { testworld.Pipeline(s, 10, 1, 1); return nil })
		require.NoError(t, err)
		require.NoError(t, ck.Checkpoint(s))
		require.NoError(t, ck.Close())

		done := make(chan error, 1)
		go func() { done <- ck.Checkpoint(s) }()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, store.ErrCheckpointerClosed, "async: %v", async)
		case <-time.After(30 * time.Second):
			t.Fatalf("async %v: Checkpoint after Close did not return", async)
		}
	}
}

// stray is a value type that no registry knows.
type stray struct{ A int }

// Sender sends one value and keeps the error its send got.
type Sender struct {
	Ch   channel.ID
	Sent bool
	Err  string
}

func (b *Sender) Step(t *tasklet.T) tasklet.Op {
	if b.Sent {
		if err := t.Err(); err != nil {
			b.Err = err.Error()
		}
		return t.Exit()
	}
	b.Sent = true
	return t.Send(b.Ch, stray{A: 1})
}

func TestResumedSchedulerRefusesUnregisteredValuesAtTheSend(t *testing.T) {
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("sender", 1, &Sender{}))
	ck := store.NewCheckpointer(openDB(t), reg)
	var ch channel.ID
	b := &Sender{}
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		ch = s.NewChannel(1)
		b.Ch = ch
		s.Spawn(b)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.True(t, b.Sent)
	assert.Contains(t, b.Err, "store_test.stray", "the sending step's error names the Go type")
	assert.Contains(t, b.Err, `pickle.RegisterValue[store_test.stray](reg, "name")`, "and how to register it")
	assert.Zero(t, s.Channel(ch).Len(), "the refused value is not in the buffer")
	require.NoError(t, ck.Checkpoint(s), "so the world can still be saved")
}

// TestFailedIncrementalCheckpointIsAnError: an incremental checkpoint that
// cannot encode a value fails with an error (it dereferenced a nil batch
// and panicked), and the next checkpoint is a full one, since the changes
// the failed one took are saved nowhere else.
func TestFailedIncrementalCheckpointIsAnError(t *testing.T) {
	reg := testworld.Registry()
	db := openDB(t, store.WithKeep(0))
	ck := store.NewCheckpointer(db, reg)
	var ch channel.ID
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		testworld.Pipeline(s, 40, 2, 2)
		ch = s.NewChannel(1)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, ck.Checkpoint(s))
	_, err = s.RunBudget(context.Background(), 20, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	s.PostLocal(ch, stray{A: 1}) // a host post: not checked at the send

	require.NotPanics(t, func() { err = ck.Checkpoint(s) })
	require.ErrorIs(t, err, pickle.ErrUnregistered)
	assert.Contains(t, err.Error(), "store_test.stray")

	_, ok, err := s.TryRecv(ch)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, ck.Checkpoint(s))
	gens, err := db.List()
	require.NoError(t, err)
	assert.Zero(t, gens[len(gens)-1].Base, "the checkpoint after a failed one is full")
	sameWorld(t, db, reg, ck.Last(), s)
}
