package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cluster starts this program again as its workers; in tests that is
// the test binary, which TestMain turns into a worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(workerMain(context.Background(), os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

func TestDemosRunAndCheckTheirResults(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts clusters of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"-tasks", "4", "-links", "150000", "-per-step", "500", "-data", t.TempDir(), "scaling", "migrate"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr:\n%s", errOut.String())
	got := out.String()
	assert.Equal(t, 2, strings.Count(got, ", checked)"), "both scaling runs match the directly computed chains:\n%s", got)
	assert.Contains(t, got, "speedup on 2 workers:")
	assert.Contains(t, got, "round 3:")
	assert.Contains(t, got, "-> worker", "tasklets moved")
	assert.Contains(t, got, "the same as computed directly")
	assert.Contains(t, got, "counted 25 ticks")
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-tasks", "0"}, {"-links", "-1"}, {"nosuchdemo"}, {"-bogus"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errOut), "%q", args)
	}
	assert.Equal(t, 2, workerMain(context.Background(), []string{"--node", "1"}, &bytes.Buffer{}), "a worker needs its cluster")
}
