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

// DIR/secret deleted while the cluster ran (a tmp cleaner, a mistaken rm)
// took the cluster down at its next rollback: every replacement worker
// failed to read it, five rollbacks failed, and no client could connect.
// The coordinator now writes it again from memory.
func TestADeletedSecretDoesNotTakeTheClusterDown(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	col, want := spawnWork(t, ctx, c, 4, 2000, 200)
	path := filepath.Join(c.Dir(), "secret")
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
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
		return len(st.Workers) == 2
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
	got, err := os.ReadFile(path)
	require.NoError(t, err, "the secret was written again")
	assert.Equal(t, old, got)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: c.Dir()})
	require.NoError(t, err, "a client connects with it")
	cl.Close()
	xor, n := collected(t, ctx, c, col)
	assert.Equal(t, 4, n)
	assert.Equal(t, want(), xor)
}
