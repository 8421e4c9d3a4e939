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

// A tasklet grown past the record limit makes every checkpoint fail: status
// says so (how many, since when, why), not only the coordinator's log,
// until a checkpoint is stored again.
func TestFailingCheckpointsShowInStatus(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Zero(t, st.CheckpointFailures)
	last := st.LastGen

	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "ballast", Count: 1, Worker: 1, Args: map[string]string{"bytes": fmt.Sprint(pickle.DefaultMaxRecord + 1)}})
	require.Error(t, err, "a tasklet over the record limit cannot be checkpointed")
	require.Len(t, res.Tasklets, 1)
	big := res.Tasklets[0].ID
	t.Cleanup(func() { _, _ = c.Kill(ctx, big) }) // else the final checkpoint fails too
	assert.Contains(t, err.Error(), "record too large", "the worker's error, as text")
	assert.Contains(t, err.Error(), fmt.Sprintf("tasklet %v (kind test.ballast)", big), "the error names the tasklet")
	_, err = c.Checkpoint(ctx)
	require.Error(t, err)

	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, st.CheckpointFailures)
	assert.Equal(t, last, st.LastGen)
	assert.False(t, st.FailingSince.IsZero())
	assert.Contains(t, st.CheckpointErr, "test.ballast")
	assert.Contains(t, st.Failing(), fmt.Sprintf("2 in a row since %s, the work since generation %d is not saved", st.FailingSince.Local().Format("15:04:05"), last))

	// Through a client too: the fields cross the wire.
	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: st.Dir})
	require.NoError(t, err)
	defer cl.Close()
	cst, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, st.Failing(), cst.Failing())

	_, err = c.Kill(ctx, big)
	require.NoError(t, err)
	_, err = c.Checkpoint(ctx)
	require.NoError(t, err)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.CheckpointFailures, "a stored checkpoint ends the run of failures")
	assert.Empty(t, st.Failing())
	assert.Greater(t, st.LastGen, last)
}
