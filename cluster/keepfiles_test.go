package cluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// DIR/secret, nats.seed or the socket folder deleted while the cluster ran
// (a tmp cleaner, a mistaken rm) took the cluster down at its next
// rollback: every replacement worker failed to start, five rollbacks
// failed, and no client could connect. The coordinator now writes the
// files again as they were and listens on its socket again.
func TestDeletedFolderFilesDoNotTakeTheClusterDown(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	col, want := spawnWork(t, ctx, c, 4, 2000, 200)
	type file struct {
		data []byte
		mode os.FileMode
	}
	files := map[string]file{}
	for _, name := range []string{"secret", "host-id", "nats.seed", "nats.url"} {
		path := filepath.Join(c.Dir(), name)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		files[path] = file{b, fi.Mode().Perm()}
		require.NoError(t, os.Remove(path))
	}
	require.NoError(t, os.RemoveAll(filepath.Join(c.Dir(), "sock")), "the sockets too")
	require.NoError(t, os.RemoveAll(filepath.Join(c.Dir(), "run")), "and the worker records")
	st, err := c.Status(ctx)
	require.NoError(t, err)
	killed := st.Workers[1].Pid
	killWorker(t, killed)

	replaced := func(st cluster.Status) bool {
		for _, w := range st.Workers {
			if w.Pid == killed {
				return false
			}
		}
		return len(st.Workers) == 2 && st.Answering() == 2
	}
	for ctx.Err() == nil {
		st, err = c.Status(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(st.State, "down:") || (st.Rollbacks >= 1 && st.State == "running" && replaced(st)) {
			break
		}
		waitABit(ctx)
	}
	require.Equal(t, "running", st.State, "the rollback's workers started")
	for path, f := range files {
		got, err := os.ReadFile(path)
		require.NoError(t, err, "%s was written again", path)
		assert.Equal(t, f.data, got, path)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, f.mode, fi.Mode().Perm(), path)
	}
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: c.Dir()})
	require.NoError(t, err, "a client connects with it")
	cl.Close()
	xor, n := collected(t, ctx, c, col)
	assert.Equal(t, 4, n)
	assert.Equal(t, want(), xor)

	require.NoError(t, c.Close())
	_, err = os.Stat(filepath.Join(c.Dir(), "nats.url"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a closed coordinator's NATS URL is removed, not kept")
}
