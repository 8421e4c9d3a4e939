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

	// A disk that turned read-only mid-run, and a mapping that could not
	// grow, said no more than the system's words.
	err = db.fileError(fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: db.path, Err: syscall.EROFS}))
	assert.ErrorIs(t, err, syscall.EROFS)
	assert.EqualError(t, err, "commit: write /d/world.db: read-only file system: the file system of /d/world.db turned read-only (Linux does so after a disk error; see dmesg); "+
		"nothing of this write was kept and what was stored before is intact: copy the file to a writable folder and go on from there, or make this one writable")
	err = db.fileError(errors.New("mmap allocate error: cannot allocate memory"))
	assert.ErrorContains(t, err, "mmap allocate error: cannot allocate memory: the database's mapping could not grow")
	other := errors.New("something else")
	assert.Same(t, other, db.fileError(other))
}
