package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// TestMoveAsideKeepsTheBytes moves a refused file to a timestamped name and
// lets a new database start at the path.
func TestMoveAsideKeepsTheBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := store.Open(path)
	require.ErrorIs(t, err, store.ErrNotDatabase, "an empty file is not a new database")

	to, err := store.MoveAside(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(filepath.Base(to), "cluster.db.bad-"), to)
	st, err := os.Stat(to)
	require.NoError(t, err)
	assert.Zero(t, st.Size())
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.WriteFile(path, []byte("again"), 0o600))
	to2, err := store.MoveAside(path)
	require.NoError(t, err)
	assert.NotEqual(t, to, to2, "a second move in the same second gets its own name")

	db, err := store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	_, err = store.MoveAside(path)
	assert.ErrorIs(t, err, store.ErrLocked, "a database in use is not moved")
	assert.Contains(t, err.Error(), path)
}

// TestCreateLeavesNoPartialFile: a new database appears at its path only
// once it is laid out, so a crash never leaves an empty file there that
// the next Open would refuse; and it is read back as an empty store.
func TestCreateLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	db, err := store.Open(path, store.WithTimeout(time.Second))
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left beside it")
	assert.Equal(t, "new.db", entries[0].Name())
	_, err = db.Latest()
	assert.ErrorIs(t, err, store.ErrEmpty)
	_, err = db.Save(&store.Checkpoint{Records: []store.Record{{Key: []byte("k"), Value: []byte("v")}}})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	ro, err := store.Open(path, store.WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	gens, err := ro.List()
	require.NoError(t, err)
	assert.Len(t, gens, 1)
	_, err = ro.Save(&store.Checkpoint{})
	assert.ErrorContains(t, err, "read-only")

	_, err = store.Open(filepath.Join(dir, "missing.db"), store.WithReadOnly())
	assert.ErrorIs(t, err, os.ErrNotExist, "read-only never creates")
}
