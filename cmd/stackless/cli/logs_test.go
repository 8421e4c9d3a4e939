package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// TestClusterLogsAreJSONWithTheProjectsKeys runs a cluster with
// --log-format json, makes the observer log an action and the cluster roll
// back after a worker's SIGKILL, and reads everything cluster up printed:
// every log record, a worker's too, is a JSON line as it stands (no "w1| "
// prefix before it: its node key says which worker), and the records use
// the project's keys (tasklet, generation).
func TestClusterLogsAreJSONWithTheProjectsKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Setenv(envCLIMain, "1")  // the workers are this test binary
	t.Setenv(envLogFormat, "") // cluster up sets it for its workers; restored after
	d, err := os.MkdirTemp("", "stlog")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	url, done, printed := serveOut(t, ctx, "--log-format", "json", "cluster", "up", "--data", d, "-n", "2",
		"--checkpoint-every", "0", "--balance-every", "0", "--http", "127.0.0.1:0")
	at := []string{"--cluster", d}

	// The observer logs a kill from its page.
	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "spawn", "collector", "-o", "json", "--worker", "2",
		"--arg", "in=@chan"}, at...)...)), &col))
	victim := col.Tasklets[0].ID.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url[:strings.Index(url, "?")]+"api/act"+url[strings.Index(url, "?"):],
		strings.NewReader(`{"action":"kill","id":"`+victim+`"}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A worker killed with SIGKILL: the coordinator rolls the cluster back
	// (and logs the generation), the other worker logs its link closing.
	var st cluster.Status
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "status", "-o", "json"}, at...)...)), &st))
	require.Len(t, st.Workers, 2)
	p, err := os.FindProcess(st.Workers[1].Pid)
	require.NoError(t, err)
	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Eventually(t, func() bool {
		var st cluster.Status
		code, out, _ := run(t, append([]string{"cluster", "status", "-o", "json"}, at...)...)
		if code != 0 { // a worker is missing until the rollback restarted it
			return false
		}
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		return st.Rollbacks >= 1 && st.State == "running" && st.Answering() == 2 && len(st.Workers) == 2
	}, 2*time.Minute, 50*time.Millisecond, "the cluster rolls back and runs again")

	runOK(t, append([]string{"cluster", "down"}, at...)...)
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
	lines := <-printed

	var records []map[string]any
	for _, line := range lines {
		assert.NotRegexp(t, `^w\d+\| \{`, line, "a worker's log record is not prefixed")
		if !strings.HasPrefix(line, "{") {
			continue // the command's own messages ("cluster up: ...", "observer: ...")
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "a log line is JSON: %s", line)
		for _, k := range []string{"time", "level", "msg"} {
			assert.Contains(t, rec, k, line)
		}
		records = append(records, rec)
	}
	find := func(msg string) map[string]any {
		for _, r := range records {
			if r["msg"] == msg {
				return r
			}
		}
		t.Fatalf("no log record %q in:\n%s", msg, strings.Join(lines, "\n"))
		return nil
	}
	rollback := find("cluster: rolling the whole cluster back to the last consistent checkpoint")
	assert.Contains(t, rollback, "generation")
	// The workers log only warnings, and none is certain here; that their
	// records go through unprefixed is TestCopyLinesLeavesLogRecordsUnprefixed
	// (cluster).
	action := find("observer action")
	assert.Equal(t, victim, action["tasklet"])
	assert.Equal(t, "kill", action["action"])
}
