package store

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFileErrorNamesTheDatabaseAndAFullDisk(t *testing.T) {
	db := &DB{path: "/d/world.db", tmp: "/d/.world.db.new-1"}
	err := db.fileError(fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: db.tmp, Err: syscall.ENOSPC}))
	assert.EqualError(t, err, "commit: write /d/world.db: no space left on device: the disk (or a quota or file size limit) is full; "+
		"nothing of this write was kept and what was stored before is intact: free space and try again")
	assert.ErrorIs(t, err, syscall.ENOSPC)

	err = db.fileError(errors.New("read /d/.world.db.new-1: input/output error"))
	assert.EqualError(t, err, "read /d/world.db: input/output error", "a name only in the text is replaced too")
	assert.NoError(t, db.fileError(nil))
	other := errors.New("something else")
	assert.Same(t, other, db.fileError(other))
}
