package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/internal/damage"
)

// realClusterDir runs `cluster up` with two workers, spawns a collector and
// work on both, checkpoints, and stops it: DIR then holds real cluster
// checkpoints (in its NATS store). It returns DIR and how many tasklets
// were live.
func realClusterDir(t *testing.T) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, done := startUp(t, ctx, "-n", "2", "--checkpoint-every", "0", "--balance-every", "0")
	at := []string{"--cluster", dir}
	var col cluster.SpawnResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "spawn", "collector", "-o", "json",
		"--arg", "in=@chan", "--arg", "want=8", "--worker", "1"}, at...)...)), &col))
	in := col.Tasklets[0].Channels["in"].String()
	runOK(t, append([]string{"cluster", "spawn", "work", "--count", "8", "--arg", "out=" + in, "--arg", "links=50000000"}, at...)...)
	var ps []cluster.TaskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, append([]string{"cluster", "ps", "-o", "json"}, at...)...)), &ps))
	require.Len(t, ps, 9)
	runOK(t, append([]string{"cluster", "checkpoint"}, at...)...)
	runOK(t, append([]string{"cluster", "down"}, at...)...)
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
	return dir, len(ps)
}

// TestInspectAndExportAClusterDirectory: inspect, checkpoint ls, export
// and rm read the checkpoints `cluster up` stores in its directory, and
// inspect reads the exported snapshot: every live tasklet, each on its
// worker.
func TestInspectAndExportAClusterDirectory(t *testing.T) {
	path, live := realClusterDir(t)

	v := inspectJSON(t, path)
	require.Len(t, v.Workers, 2, "one world per worker")
	assert.Len(t, v.Tasklets, live, "every live tasklet")
	for _, tv := range v.Tasklets {
		assert.NotZero(t, tv.Worker, "tasklet %d names its worker", tv.ID)
		assert.Empty(t, tv.Problem)
		assert.Equal(t, tv.Worker, uint16(tv.ID>>48), "tasklet %d is held by the worker of its node", tv.ID)
	}
	table := runOK(t, "inspect", path)
	assert.Contains(t, table, "a cluster checkpoint of 2 workers")
	assert.Contains(t, table, fmt.Sprintf("tasklets: %d", live))
	assert.Contains(t, runOK(t, "checkpoint", "ls", path), "GEN")

	snap := filepath.Join(t.TempDir(), "cluster.snapshot")
	out := runOK(t, "checkpoint", "export", path, snap)
	assert.Contains(t, out, fmt.Sprintf("%d tasklets", live))
	assert.Contains(t, out, "a cluster checkpoint of 2 workers")
	sv := inspectJSON(t, snap)
	assert.Equal(t, "snapshot", sv.Type)
	assert.Len(t, sv.Workers, 2)
	assert.Len(t, sv.Tasklets, live)

	var gens []genView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "ls", path, "-o", "json")), &gens))
	require.NotEmpty(t, gens)
	newest := gens[len(gens)-1].Gen
	assert.Contains(t, runOK(t, "checkpoint", "rm", path, strconv.FormatUint(newest, 10)), fmt.Sprintf("deleted generation %d", newest))
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "ls", path, "-o", "json")), &gens))
	for _, g := range gens {
		assert.NotEqual(t, newest, g.Gen, "generation %d was deleted", newest)
	}
	code, _, errOut := run(t, "inspect", path, "--gen", strconv.FormatUint(newest, 10))
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, fmt.Sprintf("generation %d is not in %s", newest, path))
}

// TestInspectNamesWhatItReads: a file that is neither kind is refused with
// what inspect accepts, not a bbolt message.
func TestInspectNamesWhatItReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("# stackless\n\nA README, not a database.\n", 200)), 0o600))
	code, _, errOut := run(t, "inspect", path)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, path+" is not a stackless checkpoint database or snapshot file")
	assert.Contains(t, errOut, "checkpoint export")
	assert.NotContains(t, errOut, "file size too small")
}

// runCLI runs this test binary as the stackless command in its own process,
// so that a crash (a fault, a panic) shows as an exit status, not as the
// end of the test binary.
func runCLI(ctx context.Context, args ...string) (code int, stderr string) {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), envCLIMain+"=1")
	var eb bytes.Buffer
	cmd.Stderr = &eb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), eb.String()
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, eb.String()
}

// head is the start of a crash report: enough to see where.
func head(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "..."
	}
	return s
}

// crashed reports whether a command's end looks like a crash rather than
// an error it reported.
func crashed(code int, stderr string) bool {
	return (code != 0 && code != exitFailure) || strings.Contains(stderr, "panic") ||
		strings.Contains(stderr, "fatal error") || strings.Contains(stderr, "goroutine ")
}

// TestDamagedFilesNeverCrashTheCLI runs inspect, checkpoint ls and
// checkpoint export, each in its own process, on damaged copies of every
// kind of file the project writes (a program's checkpoint database, a
// snapshot file, which is also what a cluster generation is exported to):
// each exits 0 with valid data or 1 with an error naming the file. (A
// cluster's checkpoints are in NATS JetStream: their damage is tested in
// package cluster, TestDamagedNewestGenerationFallsBackToTheOneBefore.)
func TestDamagedFilesNeverCrashTheCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	single, _ := pipelineStore(t)
	snap, _ := pipelineSnapshot(t)
	// Each command is a process (a race-enabled one under -race): sample
	// the copies, run inspect on each and ls and export on every other.
	step := 4
	if testing.Short() {
		step = 10
	}
	for _, src := range []struct{ kind, path string }{{"single", single}, {"snapshot", snap}} {
		good, err := os.ReadFile(src.path)
		require.NoError(t, err)
		variants := damage.Variants(good, 11)
		for i := 0; i < len(variants); i += step {
			v := variants[i]
			dir := t.TempDir()
			path := filepath.Join(dir, filepath.Base(src.path))
			require.NoError(t, os.WriteFile(path, v.Data, 0o600))
			commands := [][]string{{"inspect", path}}
			if (i/step)%2 == 0 {
				commands = append(commands, []string{"checkpoint", "ls", path},
					[]string{"checkpoint", "export", path, filepath.Join(dir, "out.snapshot"), "--force"})
			}
			for _, args := range commands {
				code, stderr := runCLI(ctx, args...)
				name := fmt.Sprintf("%s %d (%s): %s", src.kind, i, v.Name, strings.Join(args[:len(args)-1], " "))
				assert.False(t, crashed(code, stderr), "%s crashed (exit %d):\n%s", name, code, head(stderr))
				if code != 0 {
					assert.Contains(t, head(stderr), path, "%s: the error names the file", name)
				}
			}
		}
	}
}
