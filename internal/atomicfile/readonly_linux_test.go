package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/rodir"
)

// A write into a read-only folder named the hidden temporary file ("write
// X: open .X.tmp-123: read-only file system") and said nothing of what to
// do; it names X once and says the folder is read-only.
func TestWriteFileReadOnlyFolder(t *testing.T) {
	path := filepath.Join(rodir.Make(t), "out.png")
	err := WriteFile(path, []byte("x"), 0o644)
	rodir.Check(t, err, path)
	assert.Contains(t, err.Error(), "write "+path+": open: ")
	var pe *fs.PathError
	assert.True(t, errors.As(err, &pe), "the fs.PathError stays in the chain")
}

// An error on the target itself (opening an existing file to write) lost
// nothing but repeated its name: "open X: open X: ...".
func TestFailedDropsTheRepeatedName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	rodir.Freeze(t, dir)
	_, err := os.OpenFile(path, os.O_RDWR, 0)
	require.Error(t, err)
	err = Failed(err, "", path)
	assert.Equal(t, "open: "+rodir.Errno().Error(), err.Error()[:len("open: ")+len(rodir.Errno().Error())])
	assert.NotContains(t, err.Error(), path, "the caller names it")
	assert.ErrorIs(t, err, rodir.Errno())
}
