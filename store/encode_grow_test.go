package store

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// fat is a tasklet bigger than a first checkpoint's size hint guesses.
type fat struct {
	Pad   []byte
	Big   bool
	Steps int
}

func (f *fat) Step(t *tasklet.T) tasklet.Op { return t.Yield() }

// The first checkpoint of a world of tasklets eight times the size its
// hint guessed grew the buffer a quarter at a time: it allocated about
// five times the world's bytes, copying it over and over (a million game
// entities: 18 s, mostly fresh pages). reserve grows it once, from the
// chunks written, and the one outlier (a game's world tasklet, tasklet
// 1, here 64 times the others) does not make it guess too big either.
func TestFirstCheckpointGrowsTheBufferOnce(t *testing.T) {
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("test.fat", 1, &fat{}))
	db, err := Open(filepath.Join(t.TempDir(), "fat.db"))
	require.NoError(t, err)
	defer db.Close()
	s := scheduler.New()
	const n = 20_000 // ten chunks of 2,048 tasklets
	s.Spawn(&fat{Pad: make([]byte, 64<<10), Big: true})
	for range n - 1 {
		s.Spawn(&fat{Pad: make([]byte, 1000)})
	}
	c := NewCheckpointer(db, reg)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, err := c.encodeWorld(s.View())
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	size := 0
	for _, buf := range b.bufs {
		size += len(buf)
	}
	c.release(b)
	require.Greater(t, size, 1000*n, "the world's bytes")
	allocated := after.TotalAlloc - before.TotalAlloc
	// 4.7x before; now the hint's buffers, the first two chunks grown by
	// append (room measures two before it guesses), and one new buffer.
	assert.Less(t, allocated, uint64(size)*7/2, "allocated %d bytes to encode %d", allocated, size)
}

// many is a tasklet whose record is many small values, as a game's world.
type many struct{ Nums []uint32 }

func (m *many) Step(t *tasklet.T) tasklet.Op { return t.Yield() }

// An incremental checkpoint's buffer grew from nothing every time: a
// game's increments hold its 90 MB world record, past what the buffer pool
// keeps, and each was copied about twenty times on the way. It is now
// sized as the last increment.
func TestIncrementSizedAsTheLastOne(t *testing.T) {
	const big = maxKeptArena + 8<<20
	reg := pickle.NewRegistry()
	reg.SetMaxRecord(2 * big)
	require.NoError(t, reg.Register("test.many", 1, &many{}))
	db, err := Open(filepath.Join(t.TempDir(), "many.db"), WithMaxRecord(2*big))
	require.NoError(t, err)
	defer db.Close()
	c := NewCheckpointer(db, reg)
	s, err := c.Resume(func(s *scheduler.Scheduler) error {
		nums := make([]uint32, big/5) // 5 bytes each in msgpack
		for i := range nums {
			nums[i] = 1 << 20
		}
		s.Spawn(&many{Nums: nums})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, c.Checkpoint(s)) // full
	increment := func() uint64 {
		_, err := s.RunBudget(t.Context(), 1, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b, err := c.encodeChanges(s)
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		b.base = 1
		require.NoError(t, c.write(b))
		return after.TotalAlloc - before.TotalAlloc
	}
	increment() // grows from nothing
	allocated := increment()
	assert.Less(t, allocated, uint64(big)*3/2, "the second increment of a %d-byte record allocated %d bytes", big, allocated)
}
