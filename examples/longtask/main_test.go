package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/longtask/task"
)

// childArgsEnv holds the arguments of a child process: the test binary
// started again runs the program's run with them instead of the tests.
const childArgsEnv = "LONGTASK_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childArgsEnv); ok {
		os.Exit(run(context.Background(), strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The size of the kill -9 test: long enough for every kill moment below,
// short enough to finish in a few seconds with -race.
const (
	killDocs  = 4000
	killSteps = "800"
)

// killMoments says when to kill each child: after its n-th checkpoint, or
// for 0 as soon as it has resumed (before it writes anything).
var killMoments = []int{1, 2, 0, 1, 3, 1}

// processContext is the context of a test that runs the program in child
// processes: it ends when the test does, or a little before the test
// binary's -test.timeout, so a hang fails the test with its own message and
// the child's stderr rather than the binary's panic. A fixed deadline of a
// few minutes was too short: on a loaded 2-core machine (load ~20, -race,
// GOMAXPROCS=1) the kill -9 test needed more than 2 minutes and its last
// child was killed by the deadline, not by the test.
func processContext(t *testing.T) context.Context {
	t.Helper()
	d, ok := t.Deadline()
	if !ok {
		return t.Context()
	}
	ctx, cancel := context.WithDeadline(t.Context(), d.Add(-time.Until(d)/20))
	t.Cleanup(cancel)
	return ctx
}

// child is one run of the program in a process of its own.
type child struct {
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stderr bytes.Buffer
}

func startChild(t *testing.T, ctx context.Context, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, " "), eventsEnv+"=1")
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	c.lines = bufio.NewScanner(out)
	return c
}

// TestKillNineResumes runs the program in child processes, kills them with
// SIGKILL at several moments chosen from the checkpoints they report,
// restarts until a run finishes, and checks that the result line equals an
// uninterrupted in-process run's, that no reported checkpoint was lost and
// that progress never went backwards.
func TestKillNineResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: kills and restarts the program with SIGKILL (make test runs it; make test-short skips it)")
	}
	ctx := processContext(t)
	var want bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"--docs", fmt.Sprint(killDocs), "--data", t.TempDir()}, &want, &bytes.Buffer{}))
	require.True(t, strings.HasPrefix(want.String(), "result: "), want.String())

	args := []string{"--docs", fmt.Sprint(killDocs), "--data", t.TempDir(), "--checkpoint-every", "1h", "--checkpoint-steps", killSteps}
	var lastGen, doneGen uint64 // newest checkpoint a child reported; the finished run's
	lastDocs, kills := 0, 0
	result := ""
	for attempt := 0; result == "" && attempt < 3*len(killMoments); attempt++ {
		c := startChild(t, ctx, args...)
		killAt := -1
		if kills < len(killMoments) {
			killAt = killMoments[kills]
		}
		seen, killed := 0, false
		for !killed && c.lines.Scan() {
			line := c.lines.Text()
			var gen uint64
			var docs int
			switch {
			case strings.HasPrefix(line, "result: "):
				result = line
			case scan(line, "resume gen=%d docs=%d", &gen, &docs):
				assert.GreaterOrEqual(t, gen, lastGen, "a checkpoint reported before the kill is missing")
				assert.GreaterOrEqual(t, docs, lastDocs, "progress went backwards")
				lastDocs = docs
			case scan(line, "checkpoint gen=%d docs=%d", &gen, &docs):
				assert.Greater(t, gen, lastGen, "generations grow across restarts")
				lastGen = gen
				seen++
			case scan(line, "done gen=%d docs=%d", &gen, &docs):
				doneGen = gen
			default:
				continue
			}
			if seen == killAt {
				require.NoError(t, c.cmd.Process.Kill()) // SIGKILL: no chance to clean up
				kills, killed = kills+1, true
			}
		}
		for killed && c.lines.Scan() { // the pipe ends when the process does
			if line := c.lines.Text(); strings.HasPrefix(line, "result: ") {
				result = line
			}
		}
		err := c.cmd.Wait()
		if killed && err == nil { // it finished in the instant between its line and the kill
			kills, killed = kills-1, false
		}
		if !killed {
			require.NoError(t, err, "a child that was not killed must finish; stderr: %s", c.stderr.String())
			require.NotEmpty(t, result, "a finished child prints the result line")
			continue
		}
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		ws, ok := exit.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		assert.Equal(t, syscall.SIGKILL, ws.Signal(), "the child died of the kill, not of its own error: %s", c.stderr.String())
	}
	assert.Equal(t, len(killMoments), kills)
	assert.Equal(t, strings.TrimSpace(want.String()), result, "the resumed run must end like the unbroken one")
	assert.Positive(t, lastDocs, "the last run resumed with progress kept")

	// Once more: the finished run is only reported again.
	c := startChild(t, ctx, args...)
	var out []string
	for c.lines.Scan() {
		out = append(out, c.lines.Text())
	}
	require.NoError(t, c.cmd.Wait(), c.stderr.String())
	require.NotEmpty(t, out)
	assert.Equal(t, result, out[len(out)-1])
	assert.Equal(t, fmt.Sprintf("resume gen=%d docs=%d", doneGen, killDocs), out[0],
		"the finished world is the generation the finished run reported")
	assert.Contains(t, c.stderr.String(), "already complete")
}

func scan(line, format string, args ...any) bool {
	n, err := fmt.Sscanf(line, format, args...)
	return err == nil && n == len(args)
}

func TestRunBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--docs", "-1"}, {"--docs", "x"}, {"--checkpoint-every", "0s"}, {"extra"}, {"--workers", "100000000"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errOut), "%q", args)
		assert.Empty(t, out.String(), "%q", args)
		assert.NotEmpty(t, errOut.String(), "%q", args)
	}
}

func TestRunPrintsTheResultLine(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--docs", "20", "--data", dir}, &out, &errOut), errOut.String())
	assert.Regexp(t, `^result: docs=20 words=\d+ distinct=\d+ top=\[(\w+:\d+ ){4}\w+:\d+\] checksum=[0-9a-f]{16}\n$`, out.String())
	assert.NotContains(t, errOut.String(), "\r", "no progress bar when stderr is not a terminal")
	assert.FileExists(t, filepath.Join(dir, task.DBName))

	out.Reset()
	errOut.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"--data", dir}, &out, &errOut))
	assert.Contains(t, errOut.String(), "already complete")
	assert.Regexp(t, `^result: docs=20 `, out.String())
}

func TestRunInterruptedExits130(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	assert.Equal(t, 130, run(ctx, []string{"--docs", "100000", "--data", t.TempDir()}, &out, &errOut))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "run again to resume")
}
