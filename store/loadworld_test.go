package store_test

// LoadWorld decodes a generation's records where bbolt maps them, inside
// the read transaction, instead of copying the whole world out first.

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// allocated is the number of bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLoadWorldDoesNotCopyTheRecords(t *testing.T) {
	const n = 20_000
	reg := testworld.Registry()
	s := scheduler.New()
	testworld.Entities(s, n)
	db, err := store.Open(filepath.Join(t.TempDir(), "world.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, store.NewCheckpointer(db, reg).Checkpoint(s))
	meta, recs, err := reg.EncodeWorld(s.World())
	require.NoError(t, err)
	recBytes := 0
	for _, r := range recs {
		recBytes += len(r.Key) + len(r.Value)
	}

	decodeOnly := allocated(func() {
		w, err := reg.DecodeWorldParallel(meta, recs, min(runtime.GOMAXPROCS(0), 2))
		require.NoError(t, err)
		require.Len(t, w.Tasklets, n)
	})
	load := allocated(func() {
		w, _, err := store.LoadWorld(db, reg, 0)
		require.NoError(t, err)
		require.Len(t, w.Tasklets, n)
	})
	// Beyond decoding: the list of records (48 B each) and small change;
	// a copy of the records would add their recBytes.
	overhead := int64(load) - int64(decodeOnly)
	assert.Less(t, overhead, int64(56*len(recs)+256<<10),
		"LoadWorld allocated %d B beyond decoding %d records of %d B", overhead, len(recs), recBytes)
}
