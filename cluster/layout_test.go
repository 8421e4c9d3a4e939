package cluster

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `cluster up --data LINK`, LINK a symbolic link to a directory that is
// gone, said only "mkdir LINK: file exists".
func TestPrepareNamesADanglingDataLink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "data")
	require.NoError(t, os.Symlink(filepath.Join(dir, "gone"), link))
	err := dirLayout{link}.prepare()
	assert.ErrorContains(t, err, link+" is a symbolic link to "+filepath.Join(dir, "gone")+", which does not exist")
}

// `stackless worker --cluster DIR` on a folder no cluster ever ran in said
// only "stat DIR/secret: no such file or directory".
func TestWorkerOnAFolderWithoutAClusterSaysSo(t *testing.T) {
	dir := t.TempDir()
	err := RunWorker(t.Context(), WorkerConfig{Dir: dir, Node: 1})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "no cluster was ever started in "+dir)
}
