package cluster

import (
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
