package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClusterUpStandsByAndStopsWithTheLeader: a second `cluster up` on a
// running cluster's folder says it stands by and who leads; status shows
// the leader; `cluster down` stops the leader and the standby with it
// (exit 0 both), rather than handing the cluster over.
func TestClusterUpStandsByAndStopsWithTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, leader := startUp(t, ctx, "-n", "1", "--checkpoint-every", "0", "--balance-every", "0")
	standby, out := startUpIn(t, ctx, dir, "-n", "1", "--checkpoint-every", "0", "--balance-every", "0")

	st := runOK(t, "cluster", "status", "--cluster", dir)
	assert.Regexp(t, `leader: \S+:\d+ since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(epoch \d+\)`, st)

	runOK(t, "cluster", "down", "--cluster", dir)
	for name, done := range map[string]<-chan int{"leader": leader, "standby": standby} {
		select {
		case code := <-done:
			assert.Equal(t, 0, code, "the %s exits 0", name)
		case <-ctx.Done():
			require.FailNow(t, "did not stop after down", name)
		}
	}
	lines := strings.Join(<-out, "\n")
	assert.Contains(t, lines, "cluster up: standing by: the coordinator ")
	assert.Contains(t, lines, "leads "+dir)
	assert.Contains(t, lines, "the leader stopped the cluster; this standby stops too")
	assert.NotContains(t, lines, "workers in", "the standby never brought the cluster up")
}
