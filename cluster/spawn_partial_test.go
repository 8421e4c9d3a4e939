package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

// refusingNode is the worker that refuses kind "work-not-on-2": a kind that
// only some workers can build, as when workers run different builds. The
// coordinator (no envNode) builds it, so its own check lets the spawn go on.
const refusingNode = "2"

func init() {
	cluster.MustRegisterSpawner("work-not-on-2", func(a map[string]string) (tasklet.Behavior, error) {
		if os.Getenv(envNode) == refusingNode {
			return nil, fmt.Errorf("test: work-not-on-2 cannot run on node %s", refusingNode)
		}
		w := &Work{}
		var err error
		if w.Out, err = cluster.ArgChan(a, "out"); err != nil {
			return nil, err
		}
		if w.Rounds, err = cluster.ArgInt(a, "rounds", 100); err != nil {
			return nil, err
		}
		w.PerStep, err = cluster.ArgInt(a, "per_step", 100)
		return w, err
	})
}

// A spawn that the first worker carries out (holding its new tasklets
// paused for the checkpoint) but a later worker refuses says how many
// tasklets started, and leaves no worker paused: the ones that started run
// (unsaved) to their end.
func TestSpawnRefusedByALaterWorkerResumesTheFirst(t *testing.T) {
	c, ctx, _, out := startTwoWorkers(t)
	defer func() {
		assert.NoError(t, c.Close())
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	}()
	const count, rounds, perStep = 4, 20, 50
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": strconv.Itoa(count / 2)}})
	require.NoError(t, err)

	// Round robin over two workers: half on worker 1 (spawned first, and
	// held), half on worker 2, which refuses.
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work-not-on-2", Count: count, Place: cluster.PlaceRoundRobin,
		Args: map[string]string{"out": col.Tasklets[0].Channels["in"].String(),
			"rounds": strconv.Itoa(rounds), "per_step": strconv.Itoa(perStep)}})
	require.Error(t, err)
	t.Logf("the spawn said: %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("%d of %d tasklets started", count/2, count))
	assert.Contains(t, err.Error(), "cannot run on node "+refusingNode, "the refusal is passed on")
	require.Len(t, res.Tasklets, count/2)
	for _, s := range res.Tasklets {
		assert.Equal(t, uint16(1), s.Worker, "tasklet %v", s.ID)
	}

	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 2)
	for _, w := range st.Workers {
		require.False(t, w.Paused, "worker %d still paused after the failed spawn", w.Node)
	}
	var want uint64
	for _, s := range res.Tasklets {
		want ^= expectedDigest(uint64(s.ID), rounds*perStep)
	}
	// Bounded well below testTimeout, so a held worker fails here, not as a
	// hang of the whole test.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	xor, got := collected(t, waitCtx, c, col.Tasklets[0].ID)
	assert.Equal(t, count/2, got, "every started tasklet ran to its end")
	assert.Equal(t, want, xor)
}
