package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// scrape reads /metrics into a map from "name{labels}" to value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code, string(body))
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "a sample line: %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		m[line[:i]] = v
	}
	return m
}

// TestClusterMetricsMoveWithTheWorkload scrapes /metrics of a running
// 2-worker cluster before and after a workload that sends values from one
// worker to the other, and after a checkpoint: the per-node counters the
// workers report (steps, switches, channel operations, link traffic) and
// the coordinator's checkpoint counters move as they must.
func TestClusterMetricsMoveWithTheWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Setenv(envCLIMain, "1") // the workers are this test binary
	d, err := os.MkdirTemp("", "stmet")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	url, done := serve(t, ctx, "cluster", "up", "--data", d, "-n", "2", "--checkpoint-every", "0", "--balance-every", "0",
		"--http", "127.0.0.1:0")
	at := []string{"--cluster", d}
	home := base(url)

	before := scrape(t, home)
	assert.Equal(t, 1.0, before["stackless_up"])
	for _, name := range []string{
		`stackless_steps_total{node="1"}`, `stackless_switches_total{node="2"}`,
		`stackless_channel_operations_total{node="2"}`, `stackless_blocked_tasklets{node="1"}`, `stackless_timers{node="1"}`,
		`stackless_link_bytes_total{direction="out",node="2"}`, `stackless_link_frames_total{direction="in",node="1"}`,
		`stackless_checkpoints_total`,
	} {
		assert.Contains(t, before, name, "exported before any workload")
	}

	// A collector on worker 1 waits for 4 digests from 4 works on worker
	// 2: each digest is a send on worker 2 that crosses the link.
	const works = 4
	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "spawn", "collector", "-o", "json",
		"--arg", "in=@chan", "--arg", "want=" + strconv.Itoa(works), "--worker", "1"}, at...)...)), &col))
	require.Len(t, col.Tasklets, 1)
	in := col.Tasklets[0].Channels["in"].String()
	runOK(t, append([]string{"cluster", "spawn", "work", "--count", strconv.Itoa(works), "--arg", "out=" + in,
		"--arg", "links=2000", "--arg", "per_step=100", "--worker", "2"}, at...)...)
	// The collector parks once it has every digest: wait for that, then
	// look at the counters.
	require.Eventually(t, func() bool {
		var ps []cluster.TaskletView
		require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
		return len(ps) == 1 && ps[0].State == "paused"
	}, 2*time.Minute, 50*time.Millisecond, "the works finish and the collector parks")
	mid := scrape(t, home)
	assert.Equal(t, 2.0, mid[`stackless_checkpoints_total`]-before[`stackless_checkpoints_total`], "each spawn took a checkpoint")
	var cp cluster.CheckpointResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "checkpoint", "-o", "json"}, at...)...)), &cp))
	after := scrape(t, home)

	moved := func(name string) float64 { return after[name] - before[name] }
	assert.GreaterOrEqual(t, moved(`stackless_steps_total{node="2"}`), float64(works*2000/100), "every work stepped its chain")
	assert.GreaterOrEqual(t, moved(`stackless_switches_total{node="2"}`), float64(works*2000/100), "every step of a work yields")
	assert.GreaterOrEqual(t, moved(`stackless_channel_operations_total{node="2"}`), float64(works), "one send per work")
	assert.GreaterOrEqual(t, moved(`stackless_channel_operations_total{node="1"}`), float64(works), "one receive per digest")
	assert.Positive(t, moved(`stackless_link_bytes_total{direction="out",node="2"}`), "the digests left worker 2")
	assert.Positive(t, moved(`stackless_link_frames_total{direction="in",node="1"}`), "and reached worker 1")
	assert.Equal(t, 1.0, after[`stackless_checkpoints_total`]-mid[`stackless_checkpoints_total`], "one checkpoint taken")
	assert.Equal(t, float64(cp.Gen), after[`stackless_checkpoint_generation`])
	assert.Equal(t, float64(cp.Bytes), after[`stackless_checkpoint_size_bytes`], "the size the checkpoint reported")
	assert.Positive(t, after[`stackless_checkpoint_duration_seconds`])
	assert.Equal(t, 1.0, after[`stackless_tasklets{node="1",state="paused"}`], "the parked collector")

	runOK(t, append([]string{"cluster", "down"}, at...)...)
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
}
