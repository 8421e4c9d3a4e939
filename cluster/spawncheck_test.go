package cluster_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

// A spawn naming a channel that does not exist is refused at once, naming
// the argument and the channel; before, it succeeded and the tasklet failed
// later, with the error only in the coordinator's log.
func TestSpawnRefusesChannelsThatDoNotExist(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 2,
		Args: map[string]string{"in": "@chan", "want": "1"}})
	require.NoError(t, err)
	in := col.Tasklets[0].Channels["in"]
	before, err := c.PS(ctx)
	require.NoError(t, err)

	onWorker2 := channel.ID(uint64(in.Node())<<tasklet.NodeBits | 99999)
	onNode7 := channel.ID(7<<tasklet.NodeBits | 1)
	for _, tc := range []struct {
		name string
		kind string
		args map[string]string
		says []string
	}{
		{"a channel of no node", "work", map[string]string{"out": "ch999"}, []string{"out=ch999", "node 0"}},
		{"a node the cluster does not have", "work", map[string]string{"out": onNode7.String()}, []string{"out=" + onNode7.String(), "node 7"}},
		{"a channel its worker does not hold", "work", map[string]string{"out": strconv.FormatUint(uint64(onWorker2), 10)}, []string{"out=", onWorker2.String(), "worker 2"}},
		{"in an array field, next to new channels", "ponger", map[string]string{"ina": "@chan", "inb": "@chan", "outa": in.String(), "outb": "ch5"},
			[]string{"outb=ch5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: tc.kind, Count: 3, Args: tc.args})
			require.ErrorIs(t, err, cluster.ErrNoChannel)
			for _, s := range tc.says {
				assert.ErrorContains(t, err, s)
			}
		})
	}
	after, err := c.PS(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a refused spawn starts nothing")

	// A channel of another worker is fine.
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "work", Count: 1, Worker: 1,
		Args: map[string]string{"out": in.String(), "rounds": "3", "per_step": "10"}})
	require.NoError(t, err)
	require.Len(t, res.Tasklets, 1)
	_, got := collected(t, ctx, c, col.Tasklets[0].ID)
	assert.Equal(t, 1, got)
}
