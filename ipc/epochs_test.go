package ipc

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// A node kept the epoch of every tasklet that ever moved through it, for
// good: a balancer moving short-lived tasklets grew both nodes' maps by
// one entry a move. The epochs of tasklets gone are swept.
func TestEpochsOfTaskletsGoneAreSwept(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{})
	const moves = 3 * minSweep
	var kept tasklet.ID
	for i := range moves {
		var id tasklet.ID
		c.on(0, func(s *scheduler.Scheduler) { id = s.SpawnPaused(&Prog{Name: "p", Done: i > 0}) })
		require.NoError(t, c.nodes[0].Migrate(testCtx(t), id, 2))
		if i == 0 {
			kept = id // stays on node 2, paused
			continue
		}
		c.on(1, func(s *scheduler.Scheduler) { require.NoError(t, s.Insert(id)) }) // runs once there, and exits
	}
	c.waitFor("the moved tasklets to end", func() bool { return c.tasklets(1) == 1 })
	for i, n := range c.nodes {
		var size int
		var has bool
		c.on(i, func(*scheduler.Scheduler) { size = len(n.epochs); _, has = n.epochs[kept] })
		assert.Less(t, size, 2*minSweep, "node %d keeps the epochs of %d tasklets after %d moves", i+1, size, moves)
		assert.Equal(t, i == 1, has, "node %d: only the node the tasklet is on keeps its epoch", i+1)
	}
	// The one kept moves on by its epoch: back to node 1 and out again.
	require.NoError(t, c.nodes[1].Migrate(testCtx(t), kept, 1))
	require.NoError(t, c.nodes[0].Migrate(testCtx(t), kept, 2))
	c.on(1, func(*scheduler.Scheduler) { assert.Equal(t, uint64(3), c.nodes[1].epochs[kept]) })
}
