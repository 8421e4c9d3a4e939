package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// TestClusterCommandsOverNATS: a named cluster driven with --nats URL
// --creds FILE --name NAME only (here its embedded server: the URL in
// DIR/nats.url, the seed DIR/nats.seed, as a user on another machine would
// have them): status says who leads, spawn, ps, migrate, checkpoint,
// restore and down work, and checkpoint ls|export and inspect read its
// generations; once it is down, the directory's store holds them under
// the cluster's name only.
func TestClusterCommandsOverNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, done := startUp(t, ctx, "-n", "2", "--checkpoint-every", "0", "--balance-every", "0", "--name", "game")
	url, err := os.ReadFile(filepath.Join(dir, "nats.url"))
	require.NoError(t, err)
	at := []string{"--nats", strings.TrimSpace(string(url)), "--creds", filepath.Join(dir, "nats.seed"), "--name", "game"}
	with := func(args ...string) []string { return append(args, at...) }

	var st cluster.Status
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("cluster", "status", "-o", "json")...)), &st))
	require.Len(t, st.Workers, 2)
	require.NotNil(t, st.Leader)
	assert.Contains(t, runOK(t, with("cluster", "status")...), "leader: "+st.Leader.Holder+" since ")

	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("cluster", "spawn", "collector", "-o", "json",
		"--arg", "in=@chan", "--arg", "want=2", "--worker", "1")...)), &col))
	require.Len(t, col.Tasklets, 1)
	in := col.Tasklets[0].Channels["in"].String()
	assert.Contains(t, runOK(t, with("cluster", "spawn", "work", "--count", "2", "--arg", "out="+in, "--arg", "links=50000000", "--worker", "1")...),
		"2 tasklet(s) of kind work spawned")
	var ps []cluster.TaskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("cluster", "ps", "-o", "json")...)), &ps))
	require.Len(t, ps, 3)
	assert.Contains(t, runOK(t, with("cluster", "migrate", ps[1].ID.String(), "--to", "2")...), "to worker 2")

	var cp cluster.CheckpointResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("cluster", "checkpoint", "-o", "json")...)), &cp))
	assert.Positive(t, cp.Gen)
	var gens []genView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("checkpoint", "ls", "-o", "json")...)), &gens))
	require.NotEmpty(t, gens)
	assert.Equal(t, cp.Gen, gens[len(gens)-1].Gen, "checkpoint ls --nats lists the generation just taken")
	var v worldView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("inspect", "-o", "json", "--limit", "0")...)), &v))
	assert.Len(t, v.Tasklets, 3, "inspect --nats reads the newest generation")
	snap := filepath.Join(t.TempDir(), "c.snapshot")
	assert.Contains(t, runOK(t, with("checkpoint", "export", snap)...), "a cluster checkpoint of 2 workers")

	var rs cluster.RestoreResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, with("cluster", "restore", "-n", "1", "-o", "json")...)), &rs))
	assert.Equal(t, cp.Gen, rs.Gen)
	assert.Len(t, rs.Workers, 1)

	assert.Contains(t, runOK(t, with("cluster", "down")...), "cluster down")
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "ls", dir, "--name", "game", "-o", "json")), &gens))
	assert.NotEmpty(t, gens, "the directory holds cluster game's generations")
	assert.Contains(t, runOK(t, "checkpoint", "ls", dir), "holds no generations", "and none of the default cluster's")
}

// TestNATSFlagUsageErrors: a bad name, --creds without --nats, --nats with
// --addr, a FILE|DIR beside --nats, or a worker's --name without --nats
// are usage errors (exit 2) that say what to give.
func TestNATSFlagUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"cluster", "status", "--nats", "nats://127.0.0.1:1", "--name", "a.b"}, "letters, digits"},
		{[]string{"cluster", "up", "--name", "a b"}, "letters, digits"},
		{[]string{"cluster", "ps", "--creds", "x"}, "--creds goes with --nats"},
		{[]string{"cluster", "status", "--nats", "nats://127.0.0.1:1", "--addr", "127.0.0.1:2"}, "not both"},
		{[]string{"checkpoint", "ls", "some/dir", "--nats", "nats://127.0.0.1:1"}, "with --nats give no FILE|DIR"},
		{[]string{"checkpoint", "ls"}, "or --nats URL --creds FILE"},
		{[]string{"inspect", "--name", "x*"}, "letters, digits"},
		{[]string{"checkpoint", "export", "--nats", "nats://127.0.0.1:1"}, "takes"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--name", "a.b"}, "letters, digits"},
		{[]string{"worker", "--cluster", "d", "--node", "1", "--name", "game"}, "--name goes with --nats"},
		{[]string{"worker", "--join", "127.0.0.1:1", "--name", "game"}, "--name goes with --nats"},
	} {
		code, _, errOut := run(t, c.args...)
		assert.Equal(t, exitUsage, code, "%q: %s", c.args, errOut)
		assert.Contains(t, errOut, c.says, "%q", c.args)
	}
}
