package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/internal/damage"
	"github.com/stackless-go/stackless/store"
)

// errNoWorkers is what the worker command of startRefused returns: the
// database was accepted and the coordinator went on to start workers.
var errNoWorkers = errors.New("test: no worker processes in this test")

// startRefused runs the coordinator's start on dir with workers that cannot
// start, so it does everything with cluster.db that `cluster up` does
// (open, check, load the newest generation) and nothing more.
func startRefused(ctx context.Context, dir string, fresh bool, out *syncBuffer) error {
	c, err := cluster.Start(ctx, cluster.Config{Dir: dir, Workers: 1, Fresh: fresh, Output: out,
		CheckpointEvery: -1, BalanceEvery: -1,
		Log:           slog.New(slog.NewTextHandler(out, nil)),
		WorkerCommand: func(uint16) (*exec.Cmd, error) { return nil, errNoWorkers }})
	if err == nil {
		_ = c.Close()
		return errors.New("test: the cluster started without workers")
	}
	return err
}

// realClusterDB runs a cluster with work in flight, checkpoints it a few
// times and returns the bytes of its cluster.db.
func realClusterDB(t *testing.T) []byte {
	t.Helper()
	c, ctx := startCluster(t, 2, nil)
	spawnWork(t, ctx, c, 6, 100000, 1)
	for range 3 {
		_, err := c.Checkpoint(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	b, err := os.ReadFile(filepath.Join(c.Dir(), "cluster.db"))
	require.NoError(t, err)
	return b
}

// TestEmptyDatabaseIsRefusedUnlessFresh: a 0-byte cluster.db is not "no
// checkpoint": cluster up refuses it and names --fresh; --fresh moves it
// aside (kept) and starts.
func TestEmptyDatabaseIsRefusedUnlessFresh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := shortDir(t)
	path := filepath.Join(dir, "cluster.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))

	var out syncBuffer
	err := startRefused(ctx, dir, false, &out)
	require.ErrorIs(t, err, store.ErrNotDatabase)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "cluster up --fresh")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "the file is left alone")

	c, _ := startCluster(t, 1, func(cfg *cluster.Config) {
		cfg.Dir, cfg.Fresh, cfg.WorkerCommand = dir, true, testWorkerCommand(dir, "")
		cfg.Log = slog.New(slog.NewTextHandler(&out, nil))
	})
	moved, err := filepath.Glob(path + ".bad-*")
	require.NoError(t, err)
	require.Len(t, moved, 1, "--fresh moved the empty file aside")
	assert.Contains(t, out.String(), "moved the unusable checkpoint database aside")
	assert.Contains(t, out.String(), moved[0])
	st, err = os.Stat(path)
	require.NoError(t, err)
	assert.Positive(t, st.Size(), "a new database took its place")
	require.NoError(t, c.Close())
}

// TestDamagedClusterDatabasesAreRefused runs the coordinator's start over
// damaged copies of a real cluster.db: each is refused with the file named
// and --fresh offered, or accepted as valid (then the start fails only for
// want of workers). Nothing panics or faults.
func TestDamagedClusterDatabasesAreRefused(t *testing.T) {
	good := realClusterDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	variants := damage.Variants(good, 5)
	if testing.Short() {
		variants = variants[:len(variants)/3]
	}
	refused := 0
	for i, v := range variants {
		dir := shortDir(t)
		path := filepath.Join(dir, "cluster.db")
		require.NoError(t, os.WriteFile(path, v.Data, 0o600))
		var out syncBuffer
		err := startRefused(ctx, dir, false, &out)
		name := fmt.Sprintf("%d %s", i, v.Name)
		if errors.Is(err, errNoWorkers) {
			continue
		}
		refused++
		assert.Contains(t, err.Error(), path, name)
		assert.Contains(t, err.Error(), "--fresh", name)
		assert.True(t, errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotDatabase) || errors.Is(err, cluster.ErrSnapshot),
			"%s: %v", name, err)
		if strings.HasPrefix(v.Name, "truncate") && i%4 == 0 {
			err := startRefused(ctx, dir, true, &out)
			assert.ErrorIs(t, err, errNoWorkers, "%s: --fresh moves the file aside and goes on", name)
		}
	}
	t.Logf("%d of %d damaged copies refused, the rest read as valid", refused, len(variants))
	assert.Greater(t, refused, len(variants)/2)
}

// TestDamagedNewestGenerationOffersTheOneBefore: when only the newest
// generation is damaged, the refusal names the command that gets the
// cluster back to the one before it, and after it the cluster resumes.
func TestDamagedNewestGenerationOffersTheOneBefore(t *testing.T) {
	good := realClusterDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir := shortDir(t)
	path := filepath.Join(dir, "cluster.db")
	require.NoError(t, os.WriteFile(path, good, 0o600))

	// Damage a value of the newest generation, leaving bbolt's pages whole.
	bdb, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	var newest uint64
	require.NoError(t, bdb.Update(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket([]byte("gens")).Cursor().Last()
		newest = binary.BigEndian.Uint64(k)
		b := tx.Bucket(append([]byte{'g'}, k...))
		sk, sv := b.Cursor().First()
		bad := append([]byte(nil), sv...)
		bad[len(bad)/2] ^= 0xff
		return b.Put(sk, bad)
	}))
	require.NoError(t, bdb.Close())

	var out syncBuffer
	err = startRefused(ctx, dir, false, &out)
	require.ErrorIs(t, err, store.ErrCorrupt)
	rm := fmt.Sprintf("stackless checkpoint rm %s %d", path, newest)
	assert.Contains(t, err.Error(), rm)
	assert.Contains(t, err.Error(), "cluster up --fresh")

	db, err := store.Open(path)
	require.NoError(t, err)
	require.NoError(t, db.Delete(newest))
	require.NoError(t, db.Close())
	assert.ErrorIs(t, startRefused(ctx, dir, false, &out), errNoWorkers, "the generation before it loads")
}
