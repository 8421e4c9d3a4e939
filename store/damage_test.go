package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/damage"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// checkpointerFile writes a single-process checkpoint database the way a
// program does (a Checkpointer, full and incremental generations, old ones
// pruned so the file has free pages) and returns its bytes.
func checkpointerFile(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.db")
	db, err := store.Open(path, store.WithKeep(4))
	require.NoError(t, err)
	reg := testworld.Registry()
	ck := store.NewCheckpointer(db, reg, store.WithFullEvery(3))
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		testworld.Pipeline(s, 200, 3, 10)
		testworld.Crowd(s, 400, 20)
		return nil
	})
	require.NoError(t, err)
	for range 8 {
		// The crowd waits forever: a deadlock once the pipeline is done.
		_, err := s.RunBudget(context.Background(), 300, scheduler.Total|scheduler.Soft)
		if !errors.Is(err, scheduler.ErrDeadlock) {
			require.NoError(t, err)
		}
		require.NoError(t, ck.Checkpoint(s))
	}
	require.NoError(t, ck.Close())
	require.NoError(t, db.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// clusterStyleFile writes generations shaped like the cluster's (a JSON
// header as Meta, one pickled world per worker as records) through the
// same store calls the coordinator makes.
func clusterStyleFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.db")
	db, err := store.Open(path, store.WithKeep(3))
	require.NoError(t, err)
	reg := testworld.Registry()
	for gen := range 5 {
		cp := &store.Checkpoint{}
		var worlds []map[string]any
		for node := uint16(1); node <= 3; node++ {
			s := scheduler.New(scheduler.WithNode(node))
			testworld.Crowd(s, 300+50*gen, 10)
			blob, err := reg.DumpWorld(s.World())
			require.NoError(t, err)
			cp.Records = append(cp.Records, store.Record{Key: []byte{'w', 0, byte(node)}, Value: blob})
			worlds = append(worlds, map[string]any{"node": node, "hosts": []uint16{node}})
		}
		cp.Meta, err = json.Marshal(map[string]any{"format": 1, "kind": "stackless-cluster", "next_node": 4, "worlds": worlds})
		require.NoError(t, err)
		_, err = db.Save(cp)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// saysWhatToDo asserts a refusal names the file and a way out.
func saysWhatToDo(t *testing.T, err error, path, variant string) {
	t.Helper()
	msg := err.Error()
	assert.Contains(t, msg, path, "%s: the error names the file", variant)
	ways := []string{"backup", "--gen", "move it away", "move this file away", "older generation", "restore"}
	found := false
	for _, w := range ways {
		found = found || strings.Contains(msg, w)
	}
	assert.True(t, found, "%s: the error says what to do: %s", variant, msg)
	known := errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotDatabase) || errors.Is(err, store.ErrNotFound)
	assert.True(t, known, "%s: a damaged file is reported as ErrCorrupt or ErrNotDatabase: %v", variant, err)
}

// readAll does what the commands do with a database: list, load and decode
// every generation; in a writable database, also save one more.
func readAll(t *testing.T, path, variant string, worlds bool, opts ...store.Option) {
	t.Helper()
	db, err := store.Open(path, opts...)
	if err != nil {
		saysWhatToDo(t, err, path, variant)
		return
	}
	defer func() {
		if err := db.Close(); err != nil {
			saysWhatToDo(t, err, path, variant)
		}
	}()
	gens, err := db.List()
	if err != nil {
		saysWhatToDo(t, err, path, variant)
	}
	for _, g := range gens {
		if _, err := db.Load(g.Gen); err != nil {
			saysWhatToDo(t, err, path, variant)
		}
		if !worlds {
			continue
		}
		if _, _, err := store.LoadWorld(db, testworld.Registry(), g.Gen); err != nil && !errors.Is(err, pickle.ErrCorrupt) {
			saysWhatToDo(t, err, path, variant)
		}
	}
	if _, err := db.Latest(); err != nil && !errors.Is(err, store.ErrEmpty) {
		saysWhatToDo(t, err, path, variant)
	}
	if _, err := db.Save(&store.Checkpoint{Records: []store.Record{{Key: []byte("k"), Value: []byte("v")}}}); err != nil {
		if opts == nil {
			saysWhatToDo(t, err, path, variant)
		}
	}
}

// TestDamagedDatabasesNeverCrash damages real databases of every kind the
// project writes (truncated, pages overwritten, meta and freelist pages
// that lie) and opens each copy writable and read-only: every read and
// write returns data or an error naming the file and what to do; nothing
// panics or faults. (A fault that escaped would end this test binary.)
func TestDamagedDatabasesNeverCrash(t *testing.T) {
	files := map[string][]byte{"checkpointer": checkpointerFile(t), "cluster": clusterStyleFile(t)}
	for kind, good := range files {
		require.True(t, damage.IsBolt(good))
		variants := damage.Variants(good, 9)
		require.Greater(t, len(variants), 40, "%s: a corpus of damaged copies", kind)
		for i, v := range variants {
			name := fmt.Sprintf("%s/%d %s", kind, i, v.Name)
			path := filepath.Join(t.TempDir(), "d.db")
			require.NoError(t, os.WriteFile(path, v.Data, 0o600))
			start := time.Now()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: panicked: %v", name, r)
					}
				}()
				readAll(t, path, name, kind == "checkpointer", store.WithReadOnly())
				readAll(t, path, name, false)
			}()
			if d := time.Since(start); d > 300*time.Millisecond {
				t.Logf("SLOW %s: %v", name, d)
			}
		}
	}
}

// TestDamagedSnapshotsNeverCrash does the same for snapshot files.
func TestDamagedSnapshotsNeverCrash(t *testing.T) {
	s := scheduler.New()
	testworld.Pipeline(s, 50, 3, 10)
	testworld.Crowd(s, 500, 10)
	path := filepath.Join(t.TempDir(), "w.snapshot")
	require.NoError(t, store.SaveFile(path, testworld.Registry(), s))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	for i, v := range damage.Variants(good, 3) {
		name := fmt.Sprintf("%d %s", i, v.Name)
		require.NoError(t, os.WriteFile(path, v.Data, 0o600))
		_, err := store.LoadFile(path, testworld.Registry())
		if err != nil {
			assert.Contains(t, err.Error(), path, name)
		}
	}
}

// TestTruncatedWhileOpenIsAnError cuts the file of an open database behind
// its back (another program, a full disk, a bad restore): the next read of
// a page that is gone faults inside bbolt (SIGBUS), and the guard makes
// that an error naming the file instead of the end of the process.
func TestTruncatedWhileOpenIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	require.NoError(t, os.WriteFile(path, damage.Trim(checkpointerFile(t)), 0o600))
	for _, ro := range []bool{true, false} {
		var opts []store.Option
		if ro {
			opts = append(opts, store.WithReadOnly())
		}
		db, err := store.Open(path, opts...)
		require.NoError(t, err)
		gens, err := db.List()
		require.NoError(t, err)
		require.NotEmpty(t, gens)
		good, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, 2*16<<10)) // only the meta pages are left

		failed := 0
		for _, g := range gens {
			if _, err := db.Load(g.Gen); err != nil {
				failed++
				assert.ErrorIs(t, err, store.ErrCorrupt)
				assert.Contains(t, err.Error(), path)
				assert.Contains(t, err.Error(), "memory fault")
			}
		}
		assert.Equal(t, len(gens), failed, "every generation was on a page that is gone")
		require.NoError(t, db.Close())
		require.NoError(t, os.WriteFile(path, good, 0o600))
	}
}
