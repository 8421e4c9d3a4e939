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
	assert.Less(t, allocated, uint64(size)*5/2, "allocated %d bytes to encode %d", allocated, size)
}
