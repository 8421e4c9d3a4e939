package scheduler_test

// World carves the tasklets' cases and the channels' waiters from a few
// blocks: a checkpoint of a big world allocated a slice per tasklet.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func TestWorldDoesNotAllocatePerTasklet(t *testing.T) {
	const n, chans = 10_000, 100
	s := scheduler.New()
	ids := make([]tasklet.ChanID, chans)
	for i := range ids {
		ids[i] = s.NewChannel(0)
	}
	for i := range n {
		ch := ids[i%chans]
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	}
	require.NoError(t, s.Tick())
	w := s.World()
	require.Len(t, w.Tasklets, n)
	for _, ts := range w.Tasklets {
		require.Equal(t, []tasklet.Case{tasklet.RecvCase(ids[(int(ts.ID)-int(w.Tasklets[0].ID))%chans])}, ts.Cases)
	}
	allocs := testing.AllocsPerRun(3, func() { s.World() })
	assert.LessOrEqual(t, allocs/n, 0.1, "allocations per tasklet (%v for the world)", allocs)
}
