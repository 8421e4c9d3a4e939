package fsmode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))

	fi, err := Regular(file, "the secret")
	require.NoError(t, err)
	assert.EqualValues(t, 1, fi.Size())
	_, err = Regular(link, "the secret")
	assert.NoError(t, err, "a link to a regular file is followed")

	for path, kind := range map[string]string{
		dir:         "a directory",
		fifo:        "a named pipe (FIFO)",
		"/dev/null": "a character device",
	} {
		_, err := Regular(path, "the secret")
		var nr *NotRegularError
		require.ErrorAs(t, err, &nr, path)
		assert.Equal(t, path+" is "+kind+", not a regular file: the secret must be a regular file", err.Error())
	}

	_, err = Regular(filepath.Join(dir, "missing"), "the secret")
	assert.True(t, errors.Is(err, fs.ErrNotExist))
}

func TestDescribe(t *testing.T) {
	assert.Equal(t, "a regular file", Describe(0o644))
	assert.Equal(t, "a unix socket", Describe(fs.ModeSocket))
	assert.Equal(t, "a block device", Describe(fs.ModeDevice))
	assert.Equal(t, "a symbolic link", Describe(fs.ModeSymlink))
}

// A --data that is a symbolic link to a missing directory made mkdir say
// only "file exists"; MkdirAll names the link and its target.
func TestMkdirAllSaysWhatIsInTheWay(t *testing.T) {
	dir := t.TempDir()
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(dir, "missing"), dangling))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	good := filepath.Join(dir, "good")
	require.NoError(t, os.Symlink(t.TempDir(), good))

	err := MkdirAll(dangling, 0o755)
	require.ErrorIs(t, err, fs.ErrExist)
	assert.ErrorContains(t, err, dangling+" is a symbolic link to "+filepath.Join(dir, "missing")+", which does not exist")
	err = MkdirAll(filepath.Join(dangling, "sub"), 0o755)
	assert.ErrorContains(t, err, dangling+" is a symbolic link to ")
	err = MkdirAll(filepath.Join(file, "sub"), 0o755)
	assert.ErrorContains(t, err, file+" is a regular file, not a directory")
	assert.NoError(t, MkdirAll(filepath.Join(good, "a", "b"), 0o755), "a link to a directory is followed")
	assert.NoError(t, MkdirAll(good, 0o755))
}

// A small file is read; a large one is refused after max+1 bytes.
func TestReadSmall(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, []byte("12345678"), 0o600))
	b, err := ReadSmall(path, "a test file", 8)
	require.NoError(t, err)
	assert.Equal(t, "12345678", string(b))
	_, err = ReadSmall(path, "a test file", 7)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+" is over 7 bytes, more than a test file ever holds")
	_, err = ReadSmall(filepath.Join(dir, "nope"), "a test file", 7)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
