package store_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/rodir"
	"github.com/stackless-go/stackless/store"
)

// On a read-only file system (or a folder this user may not write in) a
// snapshot, a new database and an existing one opened to write named the
// hidden temporary file (".x.snap.tmp-123", ".x.db.new-123") or repeated
// the path ("open X: open X: ..."), and said nothing of what to do.
func TestReadOnlyFolderErrors(t *testing.T) {
	cp := &store.Checkpoint{Meta: []byte("m"), Records: []store.Record{{Key: []byte("a"), Value: []byte("1")}}}
	ro := rodir.Make(t)

	snap := filepath.Join(ro, "world.snap")
	err := store.WriteFile(snap, cp)
	rodir.Check(t, err, snap)
	assert.Contains(t, err.Error(), "store: write snapshot "+snap+": ")

	fresh := filepath.Join(ro, "new.db")
	_, err = store.Open(fresh)
	rodir.Check(t, err, fresh)
	assert.Contains(t, err.Error(), "store: create "+fresh+": ")

	sub := filepath.Join(ro, "sub", "new.db") // its folder cannot be made
	_, err = store.Open(sub)
	rodir.Check(t, err, sub)

	// An existing database in a folder that became read-only.
	dir := t.TempDir()
	path := filepath.Join(dir, "game.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	_, err = db.Save(cp)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	rodir.Freeze(t, dir)
	_, err = store.Open(path)
	rodir.Check(t, err, path)
	assert.Contains(t, err.Error(), "store: open "+path+": ")
	// Opened read-only, it still reads.
	db, err = store.Open(path, store.WithReadOnly())
	require.NoError(t, err)
	gens, err := db.List()
	require.NoError(t, err)
	assert.Len(t, gens, 1)
	require.NoError(t, db.Close())
}
