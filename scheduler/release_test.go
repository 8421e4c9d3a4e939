package scheduler_test

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// heavy waits on its channel until it is killed; its state is big enough
// that keeping it would show.
type heavy struct {
	In   tasklet.ChanID
	Load [512]byte
}

func (h *heavy) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil {
		return t.Exit()
	}
	return t.Recv(h.In)
}

// Tasklets killed while they wait on a channel that nobody uses again
// leave no state behind. Before, the channel's queue kept their entries
// (which name their records) as long as it lived, and a dead record kept
// its behavior while a live record shared its block: all 999 were kept.
func TestKilledWaitersLetGoOfTheirState(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	const n = 1000
	ids := make([]tasklet.ID, n)
	states := make([]weak.Pointer[heavy], n)
	for i := range n {
		h := &heavy{In: ch}
		states[i] = weak.Make(h)
		ids[i] = s.Spawn(h)
	}
	require.Error(t, s.Run(context.Background()), "all blocked: a deadlock")
	for _, id := range ids[1:] {
		require.NoError(t, s.Kill(id, true))
	}
	require.Error(t, s.Run(context.Background()), "the one left is blocked")
	require.Equal(t, 1, s.Len())
	runtime.GC()
	kept := 0
	for _, w := range states[1:] {
		if w.Value() != nil {
			kept++
		}
	}
	assert.Zero(t, kept, "killed tasklets' state still reachable")
	assert.NotNil(t, states[0].Value(), "the live tasklet keeps its state")
	runtime.KeepAlive(s)
}

// quick exits at its first step.
type quick struct{ N int64 }

func (q *quick) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// heapInUse is the heap's live bytes after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A world big enough that its records come in chunks keeps them for its
// next tasklets while it lives, and lets them go when its last tasklet
// ends: the scheduler does not hold on to a big world that is gone.
func TestABigWorldThatEndedLetsGoOfItsRecords(t *testing.T) {
	s := scheduler.New()
	const n = 300_000 // past the 131,072 records from which they come in chunks
	before := heapInUse()
	for range n {
		s.Spawn(&quick{})
	}
	during := heapInUse()
	require.NoError(t, s.Run(context.Background()))
	require.Zero(t, s.Len())
	after := heapInUse()
	t.Logf("heap: %d MB before, %d MB with the world, %d MB after it ended", before>>20, during>>20, after>>20)
	require.Greater(t, during, before+n*64, "the world's records are on the heap")
	assert.Less(t, after, before+4<<20, "the ended world's records and chunks are let go")
	runtime.KeepAlive(s)
}
