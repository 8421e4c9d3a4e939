package cluster_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// The workers pause while their worlds are pickled (the cut), not while
// the store writes them: a checkpoint of a million tasklets took 2.3 s, 2
// of them writing 194 MB with every write synced, and every worker stood
// still for all of it, every 5 s. Here the store waits on a file; the
// workers must run meanwhile, and the checkpoint end once it is let go.
func TestWorkersRunWhileTheirWorldsAreStored(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "slow")
	t.Setenv(envSlowPut, gate)
	c, ctx := startCluster(t, 2, nil)
	spawnWork(t, ctx, c, 2, 1_000_000, 1) // steps for as long as the test runs

	require.NoError(t, os.WriteFile(gate, nil, 0o600))
	t.Cleanup(func() { _ = os.Remove(gate) }) // before the cluster's Close, whose checkpoint would wait
	type result struct {
		res cluster.CheckpointResult
		err error
	}
	done := make(chan result, 1)
	t0 := time.Now()
	go func() {
		res, err := c.Checkpoint(ctx)
		done <- result{res, err}
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(gate + ".waiting"); return err == nil }, 20*time.Second, 5*time.Millisecond,
		"a worker began to store its world")
	steps := func() (n uint64, running bool) {
		st, err := c.Status(ctx)
		require.NoError(t, err)
		running = len(st.Workers) == 2
		for _, w := range st.Workers {
			n += w.Steps
			running = running && !w.Paused
		}
		return n, running
	}
	s0, _ := steps()
	require.Eventually(t, func() bool { s, running := steps(); return running && s > s0+100 }, 20*time.Second, 10*time.Millisecond,
		"the workers run while the store waits")
	select {
	case r := <-done:
		t.Fatalf("the checkpoint ended (%v) while its store waited", r.err)
	default:
	}

	released := time.Since(t0)
	require.NoError(t, os.Remove(gate))
	r := <-done
	require.NoError(t, r.err)
	assert.Less(t, r.res.Paused, released, "the pause ended before the store was let go")
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, r.res.Gen, st.LastGen, "the generation was committed")
	assert.Zero(t, st.CheckpointFailures)
}
