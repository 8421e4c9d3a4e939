package cluster

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/rodir"
)

// `cluster up --data DIR` in a folder nobody may write said only "mkdir
// DIR: permission denied" (or "read-only file system"): it says what the
// demos' folders say, and what to do.
func TestPrepareSaysTheDataFolderIsReadOnly(t *testing.T) {
	dir := filepath.Join(rodir.Make(t), "data")
	err := dirLayout{dir}.prepare()
	require.ErrorIs(t, err, rodir.Errno())
	assert.ErrorContains(t, err, "cluster: make the data directory "+dir+": mkdir: ")
	assert.ErrorContains(t, err, "nothing was written")
}
