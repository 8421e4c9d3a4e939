package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// waiter waits on its channel until it is killed or the channel closes.
type waiter struct {
	In   tasklet.ChanID
	Seen int64
}

func (w *waiter) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil {
		return t.Exit()
	}
	return t.Recv(w.In)
}

// Make follows the records: plain allocations while a world is small,
// chunks while a big one is built, none once an eighth of it was let go,
// and nothing kept once its last tasklet ended.
func TestMakeTakesChunksWhileABigWorldIsBuilt(t *testing.T) {
	s := New()
	ch := s.NewChannel(0)
	spawn := func() tasklet.ID {
		w := Make[waiter](s)
		require.Equal(t, waiter{}, *w, "a behavior from Make is zero")
		w.In, w.Seen = ch, 1
		return s.Spawn(w)
	}
	var ids []tasklet.ID
	for s.block.Building() == 0 {
		ids = append(ids, spawn())
	}
	assert.Empty(t, s.slabs, "a small world's behaviors are plain allocations")

	ids = append(ids, spawn())
	require.Len(t, s.slabs, 1)
	sl := s.slabs[0].(*core.Slab[waiter])
	assert.Equal(t, s.block.Building()-1, sl.Left(), "a chunk as big as the records'")
	Make[int64](s)
	assert.Len(t, s.slabs, 2, "a slab for each type")
	assert.Positive(t, s.tasks.slab.Left(), "the table's pages come from a chunk")
	assert.Positive(t, s.runq.sp.slab.Left(), "the run queue's spill comes from a chunk")

	require.Error(t, s.Run(context.Background()), "all wait: a deadlock")
	for _, id := range ids[:len(ids)/8+2000] {
		require.NoError(t, s.Kill(id, true))
	}
	require.Error(t, s.Run(context.Background()))
	require.Zero(t, s.block.Building(), "an eighth of the world let go")
	for sl.Left() > 0 {
		Make[waiter](s)
	}
	spawn()
	assert.Zero(t, sl.Left(), "a world that shrank takes no new chunk")

	require.NoError(t, s.Close(ch))
	require.NoError(t, s.Run(context.Background()))
	require.Zero(t, s.Len())
	assert.Nil(t, s.slabs, "an ended world keeps no slabs")
	assert.Zero(t, s.tasks.slab.Left()+s.chans.slab.Left()+s.runq.sp.slab.Left(), "nor chunks of pages")
	assert.False(t, s.runq.chunkRing, "nor a ring that is a spill chunk")
}
