package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

func TestOpenCreatesAMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "run")
	path := filepath.Join(dir, "world.db")
	db, err := store.Open(path)
	require.NoError(t, err, "Open makes the folder of a new database")
	for _, d := range []string{dir, filepath.Dir(dir)} {
		st, err := os.Stat(d)
		require.NoError(t, err)
		assert.True(t, st.IsDir())
		assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "%s holds checkpoints: owner only", d)
	}
	reg := testworld.Registry()
	ck := store.NewCheckpointer(db, reg)
	s, err := ck.Resume(func(s *scheduler.Scheduler) error { testworld.Pipeline(s, 10, 1, 1); return nil })
	require.NoError(t, err)
	require.NoError(t, ck.Checkpoint(s))
	require.NoError(t, ck.Close())
	require.NoError(t, db.Close())

	db, err = store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	gen, err := db.Latest()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), gen, "the checkpoint is in the new folder")
}

func TestOpenSaysWhenTheFolderCannotBeMade(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	path := filepath.Join(file, "sub", "world.db")
	_, err := store.Open(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "create its folder")
}
