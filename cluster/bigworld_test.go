package cluster_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

func init() {
	pickle.MustRegister("test.ballast", 1, &Ballast{})
	cluster.MustRegisterSpawner("ballast", func(a map[string]string) (tasklet.Behavior, error) {
		n, err := cluster.ArgInt(a, "bytes", 1<<20)
		if err != nil {
			return nil, err
		}
		return &Ballast{Pad: ballast(n)}, nil
	})
}

// Ballast is a tasklet with a big state that parks at once.
type Ballast struct{ Pad []byte }

func (b *Ballast) Step(t *tasklet.T) tasklet.Op { return t.Pause() }

// ballast is n bytes that do not compress to nothing.
func ballast(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// A worker's world is many records: one over the record limit (16 MiB) is
// an ordinary world of half a million small tasklets, and it is stored and
// restored like any. Before, the whole world was bounded by the record
// limit: a worker past it could never be checkpointed again, and every
// periodic checkpoint failed with only a line in the coordinator's log.
func TestWorldOverTheRecordLimitIsCheckpointed(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	const each = 6 << 20
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "ballast", Count: 3, Worker: 1, Args: map[string]string{"bytes": fmt.Sprint(each)}})
	require.NoError(t, err, "the spawn's checkpoint stores a world of 18 MiB")
	require.Len(t, res.Tasklets, 3)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Greater(t, st.LastBytes, pickle.DefaultMaxRecord)
	assert.Zero(t, st.CheckpointFailures)
	assert.Empty(t, st.Failing())

	_, err = c.Restore(ctx, 0, 1)
	require.NoError(t, err)
	ps, err := c.PS(ctx)
	require.NoError(t, err)
	got := 0
	for _, tv := range ps {
		if tv.Kind == "test.ballast" {
			got++
		}
	}
	assert.Equal(t, 3, got, "the restored world holds the three tasklets")
}
