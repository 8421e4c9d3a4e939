package cluster_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

func init() {
	pickle.MustRegister("test.poison", 1, &Poison{})
	cluster.MustRegisterSpawner("poison", func(a map[string]string) (tasklet.Behavior, error) {
		ms, err := cluster.ArgInt(a, "after_ms", 200)
		return &Poison{After: time.Duration(ms) * time.Millisecond}, err
	})
}

// Poison kills the worker process it runs in, a while after it starts (or
// is restored): what a tasklet whose step exits the process, overflows
// its stack or exhausts memory does.
type Poison struct {
	After time.Duration
	Slept bool
}

func (p *Poison) Step(t *tasklet.T) tasklet.Op {
	if !p.Slept {
		p.Slept = true
		return t.Sleep(p.After)
	}
	if os.Getenv(envWorker) == "" {
		return t.Fail(fmt.Errorf("poison: not in a worker process"))
	}
	fmt.Fprintln(os.Stderr, "fatal error: poison tasklet")
	os.Exit(7)
	return t.Exit()
}

// A tasklet in the newest checkpoint that kills its worker made the
// coordinator roll back and restart the worker every second or so, for
// good, each rollback a success. From the third quick death in a row the
// rollbacks wait, longer each time, and the state says it is a crash loop
// and how the worker died; restoring an older generation ends it.
func TestACrashLoopWaitsAndSaysSo(t *testing.T) {
	c, ctx := startCluster(t, 1, nil)
	before, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	_, err = c.Spawn(ctx, cluster.SpawnRequest{Kind: "poison", Count: 1, Args: map[string]string{"after_ms": "100"}})
	require.NoError(t, err) // in the checkpoint the spawn takes

	var st cluster.Status
	require.Eventually(t, func() bool {
		st, err = c.Status(ctx)
		return err == nil && strings.HasPrefix(st.State, "CRASH LOOP")
	}, testTimeout/2, 20*time.Millisecond, "no crash loop said; the last state: %q", st.State)
	assert.True(t, st.CrashLooping())
	assert.Contains(t, st.State, "3 faults in a row")
	assert.Contains(t, st.State, `exit status 7; its last output: "fatal error: poison tasklet"`)
	assert.Contains(t, st.State, "rolling back again in 1s")
	assert.Contains(t, st.State, "restore an older generation (`stackless checkpoint ls "+st.Dir+"`, then `stackless cluster restore GEN`)")
	rollbacks := st.Rollbacks

	// The wait: no rollback for most of a second.
	assert.Never(t, func() bool {
		st, err := c.Status(ctx)
		return err != nil || st.Rollbacks != rollbacks
	}, 500*time.Millisecond, 20*time.Millisecond, "the rollback waits")

	_, err = c.Restore(ctx, before.Gen, 1)
	require.NoError(t, err)
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "running", st.State)
}
