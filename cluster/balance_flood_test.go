package cluster_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// 20,000 senders spawned on worker 2 and their collector on worker 1, with
// balancing and checkpoints on (TestBarrierConvergesWhileBalancingSheds's
// flood, run to its end). Every balancing round timed out: its shed moved
// one tasklet per MIGRATE, MIGRATED, SETTLED round trip, about a thousand
// of the ten thousand asked in the caller's second, and the caller logged
// the round as failed and counted none of its moves. Now a shed keeps many
// moves in flight and answers within its budget with what it moved.
func TestFloodOnOneWorkerIsSpreadAndCollectedOnce(t *testing.T) {
	c, ctx, logs := startBusyCluster(t)
	const count = 20000
	rounds := "10" // 500 links a step: about 10 s on one worker, 5 on two
	if raceBuild {
		rounds = "2" // the same flood, its steps 5 to 20 times slower
	}
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan:4", "want": strconv.Itoa(count)}})
	require.NoError(t, err)
	began := time.Now()
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: count, Worker: 2, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "rounds": rounds, "per_step": "500"}})
	require.NoError(t, err)
	require.Len(t, res.Tasklets, count)

	v, err := c.Await(ctx, col.Tasklets[0].ID) // bounded by the test's context
	require.NoError(t, err, "the flood did not finish")
	took := time.Since(began)
	var got struct {
		Got   int
		Seeds []uint64
		Pids  []int
	}
	require.NoError(t, json.Unmarshal(v.Fields, &got))
	want := make([]uint64, 0, count)
	for _, s := range res.Tasklets {
		want = append(want, uint64(s.ID))
	}
	slices.Sort(want)
	slices.Sort(got.Seeds)
	assert.Equal(t, count, got.Got)
	assert.Equal(t, want, got.Seeds, "every sender's value collected exactly once")

	st, err := c.Status(ctx)
	require.NoError(t, err)
	var pid1 int
	for _, w := range st.Workers {
		if w.Node == 1 {
			pid1 = w.Pid
		}
	}
	require.NotZero(t, pid1, "worker 1 in %+v", st.Workers)
	onOne := 0
	for _, p := range got.Pids {
		if p == pid1 {
			onOne++
		}
	}
	text := logs.String()
	t.Logf("%d values in %v; %d sent from worker 1; %d tasklets moved in %d balancing rounds", got.Got, took.Round(time.Millisecond),
		onOne, st.Migrations, strings.Count(text, "cluster: balanced"))
	// Before, every round gave up (61 of 62); a loaded machine (CI) may
	// still see one run past the caller's second now and then.
	balanced, gaveUp := strings.Count(text, "cluster: balanced"), strings.Count(text, "balancing failed")
	assert.LessOrEqual(t, 4*gaveUp, balanced+gaveUp, "balancing rounds that gave up: %d of %d", gaveUp, balanced+gaveUp)
	ckpts, ckptFailed := strings.Count(text, `msg="cluster: checkpoint"`), strings.Count(text, "periodic checkpoint failed")
	assert.LessOrEqual(t, 4*ckptFailed, ckpts+ckptFailed, "checkpoints that failed: %d of %d", ckptFailed, ckpts+ckptFailed)
	assert.GreaterOrEqual(t, st.Migrations, count/4, "the balancer moved (and counted) a share of the flood")
	assert.GreaterOrEqual(t, onOne, count/4, "a share of the senders finished on worker 1")
}
