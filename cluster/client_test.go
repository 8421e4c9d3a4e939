package cluster

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that finds no coordinator says where it looked once: it read
// "reach the coordinator at X: ipc: node N: dial unix X: dial unix X: ...".
func TestDialNamesTheSocketOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, err = EnsureSecret(filepath.Join(dir, "secret"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Dial(ctx, DialConfig{Dir: dir})
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	sock := dirLayout{dir}.Coordinator()
	assert.Equal(t, 1, strings.Count(err.Error(), sock), err.Error())
	assert.True(t, strings.HasPrefix(err.Error(), "cluster: reach the coordinator: "), err.Error())
}
