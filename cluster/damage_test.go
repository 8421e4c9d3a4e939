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
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// errNoWorkers is what the worker command of startRefused returns: the
// store was accepted and the coordinator went on to start workers.
var errNoWorkers = errors.New("test: no worker processes in this test")

// startRefused runs the coordinator's start on dir with workers that cannot
// start, so it does everything with the checkpoint store that `cluster up`
// does (open, check, load the newest generation) and nothing more.
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

// stoppedWithWork runs a cluster with work in flight, checkpoints it a few
// times and stops it. It returns the folder, the newest generation, the
// collector and the result the work must reach.
func stoppedWithWork(t *testing.T, rounds int) (dir string, newest uint64, collector tasklet.ID, want uint64) {
	t.Helper()
	c, ctx := startCluster(t, 2, nil)
	col, wantFn := spawnWork(t, ctx, c, 6, rounds, 1)
	for range 3 {
		_, err := c.Checkpoint(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	cps, err := cluster.OpenCheckpoints(ctx, c.Dir())
	require.NoError(t, err)
	newest, err = cps.Latest()
	require.NoError(t, err)
	require.NoError(t, cps.Close())
	return c.Dir(), newest, col, wantFn()
}

// TestDamagedNewestGenerationFallsBackToTheOneBefore: a changed world
// object or a garbled manifest in the newest generation is reported by
// generation, and the cluster resumes the one before it with the exact
// result.
func TestDamagedNewestGenerationFallsBackToTheOneBefore(t *testing.T) {
	for _, tc := range []struct {
		name string
		node uint16 // 0: the manifest
	}{{"world object", 2}, {"manifest", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, newest, col, want := stoppedWithWork(t, 20000)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			require.NoError(t, cluster.DamageGeneration(ctx, dir, newest, tc.node))

			out := &syncBuffer{}
			c, ctx := startCluster(t, 2, func(cfg *cluster.Config) {
				cfg.Dir, cfg.WorkerCommand = dir, testWorkerCommand(dir, "")
				cfg.Log = slog.New(slog.NewTextHandler(out, nil))
			})
			st, err := c.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, newest-1, st.LastGen, "the generation before the damaged one was resumed")
			assert.Contains(t, out.String(), "cannot be loaded; using the one before it")
			assert.Contains(t, out.String(), fmt.Sprintf("generation=%d", newest))
			assert.Contains(t, out.String(), fmt.Sprintf("generation %d", newest))
			xor, got := collected(t, ctx, c, col)
			assert.Equal(t, 6, got)
			assert.Equal(t, want, xor, "the work resumed from the generation before finishes exactly")
		})
	}
}

// TestNoLoadableGenerationIsRefusedUnlessFresh: when no stored generation
// loads, cluster up refuses, naming the newest and the ways out; --fresh
// starts empty.
func TestNoLoadableGenerationIsRefusedUnlessFresh(t *testing.T) {
	dir, newest, _, _ := stoppedWithWork(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cps, err := cluster.OpenCheckpoints(ctx, dir)
	require.NoError(t, err)
	gens, err := cps.List()
	require.NoError(t, err)
	require.NoError(t, cps.Close())
	for _, g := range gens {
		require.NoError(t, cluster.DamageGeneration(ctx, dir, g.Gen, 0))
	}
	var out syncBuffer
	err = startRefused(ctx, dir, false, &out)
	require.ErrorIs(t, err, cluster.ErrSnapshot)
	assert.Contains(t, err.Error(), fmt.Sprintf("generation %d", newest))
	assert.Contains(t, err.Error(), "no stored generation loads")
	assert.Contains(t, err.Error(), "stackless checkpoint rm "+dir)
	assert.Contains(t, err.Error(), "cluster up --fresh")
	assert.ErrorIs(t, startRefused(ctx, dir, true, &out), errNoWorkers, "--fresh starts empty")
}

// TestNewerManifestFormatIsRefused: a generation written by a newer build
// (its manifest's format above this build's) is not damage: cluster up
// used to pass over it and resume the one before, whose checkpoints then
// pushed the newer generations out. It refuses, naming both formats.
func TestNewerManifestFormatIsRefused(t *testing.T) {
	dir, newest, _, _ := stoppedWithWork(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, cluster.SetManifestFormat(ctx, dir, newest, 2))
	var out syncBuffer
	err := startRefused(ctx, dir, false, &out)
	require.ErrorIs(t, err, store.ErrVersion)
	assert.Contains(t, err.Error(), fmt.Sprintf("generation %d", newest))
	assert.Contains(t, err.Error(), "manifest format 2, written by a newer stackless; this build reads format 1")
	assert.Contains(t, err.Error(), "no older generation is resumed in its place")
	assert.Contains(t, err.Error(), "stackless checkpoint rm "+dir)
	assert.NotContains(t, out.String(), "using the one before it")
}

// TestALostManifestBucketIsRefusedUnlessFresh: a damaged block file of the
// manifests' stream is dropped by the NATS server on start with nothing
// but a log line, and the cluster used to start empty over the worlds it
// still held (`checkpoint ls`: "holds no generations"). The loss is now
// an error naming the generations; --fresh starts empty with numbers
// above them, and sweeps them.
func TestALostManifestBucketIsRefusedUnlessFresh(t *testing.T) {
	dir, newest, _, _ := stoppedWithWork(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	blocks, err := filepath.Glob(filepath.Join(dir, "nats", "jetstream", "*", "streams", "KV_stackless_manifests", "msgs", "*.blk"))
	require.NoError(t, err)
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		require.NoError(t, os.Truncate(b, 0))
	}

	cps, err := cluster.OpenCheckpoints(ctx, dir)
	require.NoError(t, err)
	gens, err := cps.List()
	require.NoError(t, err)
	assert.Empty(t, gens, "the manifests are gone")
	err = cps.Audit()
	require.ErrorIs(t, err, cluster.ErrLost)
	assert.Contains(t, err.Error(), fmt.Sprintf("-%d,", newest), "names the newest generation lost")
	assert.Contains(t, err.Error(), "the NATS server reported", "quotes what the server said of the file")
	_, err = cps.Latest()
	assert.ErrorIs(t, err, cluster.ErrLost, "not store.ErrEmpty")
	require.NoError(t, cps.Close())

	var out syncBuffer
	err = startRefused(ctx, dir, false, &out)
	require.ErrorIs(t, err, cluster.ErrLost)
	assert.Contains(t, err.Error(), "will not start empty")
	assert.Contains(t, err.Error(), "--fresh")

	c, ctx := startCluster(t, 1, func(cfg *cluster.Config) {
		cfg.Dir, cfg.Fresh, cfg.WorkerCommand = dir, true, testWorkerCommand(dir, "")
	})
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Greater(t, st.LastGen, newest, "a fresh start numbers its generations above the lost ones")
	require.NoError(t, c.Close())
	cps, err = cluster.OpenCheckpoints(ctx, dir)
	require.NoError(t, err)
	defer cps.Close()
	assert.NoError(t, cps.Audit(), "the worlds left were swept by the first commit")
}

// TestAuditNamesGenerationsThatCannotLoad: `checkpoint ls` listed every
// generation whose manifest stood, also ones whose worlds a damaged block
// had taken, while cluster up passed over them or refused: Audit names
// them and why.
func TestAuditNamesGenerationsThatCannotLoad(t *testing.T) {
	audit := func(dir string) error {
		t.Helper()
		cps, err := cluster.OpenCheckpoints(context.Background(), dir)
		require.NoError(t, err)
		defer cps.Close()
		gens, err := cps.List()
		require.NoError(t, err)
		require.NotEmpty(t, gens, "the manifests are listed")
		return cps.Audit()
	}
	t.Run("changed", func(t *testing.T) {
		dir, newest, _, _ := stoppedWithWork(t, 10)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, audit(dir))
		require.NoError(t, cluster.DamageGeneration(ctx, dir, newest, 2))
		require.NoError(t, cluster.DamageGeneration(ctx, dir, newest-1, 0))
		err := audit(dir)
		require.ErrorIs(t, err, cluster.ErrSnapshot)
		assert.Contains(t, err.Error(), fmt.Sprintf("generation %d (world g%d/w2 holds 29 bytes, its manifest says", newest, newest))
		assert.Contains(t, err.Error(), fmt.Sprintf("generation %d (its manifest", newest-1))
		assert.Contains(t, err.Error(), "resumes the newest one that loads")
	})
	t.Run("lost with their block", func(t *testing.T) {
		dir, newest, _, _ := stoppedWithWork(t, 10)
		blocks, err := filepath.Glob(filepath.Join(dir, "nats", "jetstream", "*", "streams", "OBJ_stackless_ckpt", "msgs", "*.blk"))
		require.NoError(t, err)
		require.NotEmpty(t, blocks)
		for _, b := range blocks {
			require.NoError(t, os.Truncate(b, 0))
		}
		err = audit(dir)
		require.ErrorIs(t, err, cluster.ErrSnapshot)
		assert.Contains(t, err.Error(), fmt.Sprintf("generation %d (world g%d/w1 is missing)", newest, newest))
		assert.Contains(t, err.Error(), "refuses to start")
		assert.Contains(t, err.Error(), "the NATS server reported")
	})
}

// TestADamagedJournalFileIsReported: a damaged block of the effect
// journal. One record's sequence pushed far ahead made the NATS server
// fill the gap in memory until it ran out (the kernel killed it at 24 GB
// within 15 s); a record whose checksum fails it dropped, with the records after
// it, without a word (the server runs without a log). Either way the
// server now drops the damaged record and those after it, so calls whose
// results they held may run again, and the coordinator says so, naming
// the file.
func TestADamagedJournalFileIsReported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(rec []byte)
	}{
		{"a record far ahead", func(rec []byte) {
			binary.LittleEndian.PutUint64(rec[4:], binary.LittleEndian.Uint64(rec[4:])+1<<40)
		}},
		{"a flipped byte", func(rec []byte) { rec[22+2] ^= 0x10 }}, // in the key or the value: its checksum fails
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx := startCluster(t, 2, nil)
			srv := newTimedServer(t, time.Millisecond)
			col, _ := spawnFetchers(t, ctx, c, srv.URL, 4, 10)
			_, got := collected(t, ctx, c, col)
			require.Equal(t, 4, got)
			n, err := c.JournalLen(ctx)
			require.NoError(t, err)
			require.Positive(t, n)
			dir := c.Dir()
			require.NoError(t, c.Close())
			blocks, err := filepath.Glob(filepath.Join(dir, "nats", "jetstream", "*", "streams", "KV_stackless_journal", "msgs", "*.blk"))
			require.NoError(t, err)
			require.Len(t, blocks, 1)
			b, err := os.ReadFile(blocks[0])
			require.NoError(t, err)
			second := int(binary.LittleEndian.Uint32(b) &^ (1 << 31))
			require.Less(t, second+22, len(b), "the block holds two records")
			tc.damage(b[second:])
			require.NoError(t, os.WriteFile(blocks[0], b, 0o600))

			var out syncBuffer
			require.ErrorIs(t, startRefused(ctx, dir, false, &out), errNoWorkers, "the cluster still starts")
			assert.Contains(t, out.String(), "the effect journal's file is damaged")
			assert.Contains(t, out.String(), "KV_stackless_journal")
		})
	}
}
