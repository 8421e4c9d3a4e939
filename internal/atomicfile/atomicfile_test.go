package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.go")
	require.NoError(t, WriteFile(path, []byte("one"), 0o644))
	require.NoError(t, WriteFile(path, []byte("two"), 0o600))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A target that cannot be replaced (a non-empty directory) stays, and
	// no temporary file is left.
	busy := filepath.Join(dir, "busy")
	require.NoError(t, os.MkdirAll(filepath.Join(busy, "x"), 0o700))
	err = WriteFile(busy, []byte("three"), 0o644)
	assert.ErrorContains(t, err, "write "+busy+": ")
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	assert.Equal(t, []string{"busy", "out.go"}, got)
}

// The rename replaced whatever was at the path (as root, a device): only a
// regular file is replaced now, and the error says what is there.
func TestWriteFileReplacesOnlyAFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	err := WriteFile(fifo, []byte("x"), 0o600)
	assert.ErrorContains(t, err, "write "+fifo+": "+fifo+" is a named pipe (FIFO), not a regular file")
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeNamedPipe, "the FIFO was replaced")
}
