//go:build unix

package cluster

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Another user's cluster on this host read as "open DIR/secret: permission
// denied (is a cluster running on DIR?)", though one was: the error now
// names the owner and what to do.
func TestNotYoursNamesTheOwner(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	require.NoError(t, os.WriteFile(mine, nil, 0o600))
	theirs, uid := "/", 0 // as a user, the root folder is root's
	if os.Geteuid() == 0 {
		theirs, uid = filepath.Join(dir, "theirs"), 65534
		require.NoError(t, os.WriteFile(theirs, nil, 0o600))
		require.NoError(t, os.Chown(theirs, uid, uid))
	}
	denied := &fs.PathError{Op: "open", Path: theirs, Err: syscall.EACCES}

	err := notYours(dir, theirs, denied)
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.Contains(t, err.Error(), "the cluster in "+dir+" belongs to ")
	assert.Regexp(t, `belongs to (\S+ \()?uid `+strconv.Itoa(uid)+`\)?, and only its owner may use it`, err.Error())
	assert.Contains(t, err.Error(), "run this as that user, or start a cluster of your own (stackless cluster up --data DIR)")

	own := &fs.PathError{Op: "open", Path: mine, Err: syscall.EACCES}
	assert.Same(t, own, notYours(dir, mine, own), "this user's own file: a mode to fix, not an owner to name")
	other := errors.New("disk on fire")
	assert.Equal(t, other, notYours(dir, theirs, other))
	gone := filepath.Join(dir, "gone")
	assert.Equal(t, error(denied), notYours(gone, filepath.Join(gone, "secret"), denied), "nothing to read the owner of")
}
