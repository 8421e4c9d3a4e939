package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run executes the CLI with args as Execute would and returns the exit code,
// stdout and stderr.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	code = execute(context.Background(), root)
	return code, out.String(), errOut.String()
}

// runOK is run for a command that must succeed.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	require.Equal(t, 0, code, "stderr: %s", errOut)
	assert.Empty(t, errOut)
	return out
}

func TestVersionText(t *testing.T) {
	out := runOK(t, "version")
	assert.Contains(t, out, "stackless")
	assert.Contains(t, out, version())
	assert.Contains(t, out, runtime.Version())
	assert.Contains(t, out, runtime.GOOS+"/"+runtime.GOARCH)
}

func TestVersionJSON(t *testing.T) {
	for _, args := range [][]string{{"version", "-o", "json"}, {"-o", "json", "version"}, {"version", "--output=JSON"}} {
		var v versionInfo
		require.NoError(t, json.Unmarshal([]byte(runOK(t, args...)), &v), "%q", args)
		assert.Equal(t, version(), v.Version)
		assert.Equal(t, runtime.Version(), v.Go)
		assert.Equal(t, runtime.GOOS, v.OS)
		assert.Equal(t, runtime.GOARCH, v.Arch)
	}
}

func TestVersionVariable(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.8.7"
	assert.Contains(t, runOK(t, "version"), "v9.8.7")
	assert.Equal(t, "stackless v9.8.7\n", runOK(t, "--version"))
}

func TestBadOutputFormat(t *testing.T) {
	code, out, errOut := run(t, "version", "-o", "yaml")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `"yaml"`)
	assert.Contains(t, errOut, "table, json")
	assert.Equal(t, 1, strings.Count(errOut, "stackless: "), "the error is printed once: %s", errOut)
	assert.True(t, strings.HasPrefix(errOut, "stackless: "), errOut)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuchcommand"},
		{"version", "--nosuchflag"},
		{"version", "extra"},
		{"demo", "nosuchdemo"},
		{"demo", "pingpong", "-n", "many"},
		{"demo", "pingpong", "-n", "-1"},
		{"bench", "--benchtime", "soon"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := run(t, args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.True(t, strings.HasPrefix(errOut, "stackless: "), errOut)
			assert.Contains(t, errOut, "--help' for usage.")
		})
	}
}

func TestRunErrorExitsOne(t *testing.T) {
	root := NewRoot()
	root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return errors.New("disk full")
	}})
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"fail"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	assert.Equal(t, 1, execute(context.Background(), root))
	assert.Equal(t, "stackless: disk full\n", errOut.String())
	assert.Empty(t, out.String())
}

func TestInterruptedExits130(t *testing.T) {
	root := NewRoot()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as a signal would
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"bench", "--benchtime", "1x", "--skip-skynet"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	assert.Equal(t, 130, execute(ctx, root))
	assert.Equal(t, "stackless: interrupted\n", errOut.String())
}

// The signal that stopped the process decides the exit code: a service's
// clean shutdown (stoppedCleanly, as `cluster up` and `worker` return) is
// 0 after SIGTERM and 130 after Ctrl-C; any command it stopped before its
// end exits 128+N. Before, every signal exited 130.
func TestExitCodeBySignal(t *testing.T) {
	for _, tc := range []struct {
		sig     os.Signal
		service bool
		code    int
		stderr  string
	}{
		{syscall.SIGTERM, true, exitOK, ""},
		{os.Interrupt, true, exitInterrupted, "stackless: interrupted\n"},
		{syscall.SIGTERM, false, exitTerminated, "stackless: terminated (SIGTERM)\n"},
		{os.Interrupt, false, exitInterrupted, "stackless: interrupted\n"},
		{syscall.SIGHUP, true, exitHungUp, "stackless: hung up (SIGHUP: the terminal closed); run it under nohup, tmux or a service manager to keep it running\n"},
		{syscall.SIGHUP, false, exitHungUp, "stackless: hung up (SIGHUP: the terminal closed); run it under nohup, tmux or a service manager to keep it running\n"},
	} {
		root := NewRoot()
		root.AddCommand(&cobra.Command{Use: "serve", RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			if tc.service {
				return stoppedCleanly(cmd.Context())
			}
			return cmd.Context().Err()
		}})
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(signalCause{tc.sig}) // as Execute does on the signal
		var errOut bytes.Buffer
		root.SetArgs([]string{"serve"})
		root.SetErr(&errOut)
		assert.Equal(t, tc.code, execute(ctx, root), "%v service=%v", tc.sig, tc.service)
		assert.Equal(t, tc.stderr, errOut.String(), "%v service=%v", tc.sig, tc.service)
	}
}

func TestErrorKinds(t *testing.T) {
	assert.False(t, isUsageError(runError{fmt.Errorf("disk full")}))
	assert.True(t, isUsageError(runError{usageErrorf("bad -n")}))
}

func TestHelp(t *testing.T) {
	out := runOK(t, "--help")
	for _, c := range []string{"version", "demo", "bench", "completion", "--output"} {
		assert.Contains(t, out, c)
	}
	assert.Contains(t, runOK(t, "demo", "--help"), "pingpong")
}

// fullWriter fails every write, as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// Help to a full disk printed nothing and exited 0: cobra drops the
// errors of what it writes itself.
func TestHelpToAFullDiskFails(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"inspect", "--help"}, {"cluster", "--help"}} {
		root := NewRoot()
		var errOut bytes.Buffer
		root.SetArgs(args)
		root.SetOut(fullWriter{})
		root.SetErr(&errOut)
		code := execute(context.Background(), root)
		assert.NotZero(t, code, "%v", args)
		assert.Contains(t, errOut.String(), "no space left on device", "%v", args)
	}
}

// A command that only groups others is a usage error without a subcommand,
// with one it does not have, or with a flag it does not know: exit 2, and
// the message lists its commands. --help is not an error.
func TestGroupsNeedACommand(t *testing.T) {
	for _, group := range []struct {
		args []string
		subs []string
	}{
		{nil, []string{"cluster", "demo", "inspect"}},
		{[]string{"demo"}, []string{"gameai", "longtask", "pingpong"}},
		{[]string{"cluster"}, []string{"up", "status", "down"}},
		{[]string{"checkpoint"}, []string{"ls", "rm", "export"}},
		// cobra's own group: `completion` and `completion tcsh` printed its
		// help and exited 0.
		{[]string{"completion"}, []string{"bash", "zsh", "fish", "powershell"}},
	} {
		name := strings.Join(append([]string{"stackless"}, group.args...), " ")
		t.Run(name, func(t *testing.T) {
			for _, extra := range [][]string{nil, {"nosuch"}, {"--nosuchflag"}} {
				code, out, errOut := run(t, append(append([]string{}, group.args...), extra...)...)
				assert.Equal(t, exitUsage, code, "%s %q: %s", name, extra, errOut)
				assert.Empty(t, out, "no help on stdout for a usage error")
				assert.Contains(t, errOut, "Run '"+name+" --help' for usage.")
				if extra == nil {
					for _, sub := range group.subs {
						assert.Contains(t, errOut, sub, "the message lists the commands")
					}
				}
			}
			assert.Contains(t, runOK(t, append(append([]string{}, group.args...), "--help")...), "Available Commands")
		})
	}
}

func TestCompletion(t *testing.T) {
	assert.Contains(t, runOK(t, "completion", "bash"), "bash completion")
	code, out, _ := run(t, "__complete", "version", "-o", "")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "table\njson\n")
}

// pingPongTranscript is what the game rules give for n rallies.
func pingPongTranscript(n int) []string {
	var lines []string
	for i := 1; i <= n; i++ {
		lines = append(lines, fmt.Sprintf("ping %d", i), fmt.Sprintf("pong %d", i))
	}
	return append(lines, fmt.Sprintf("game over: %d rallies, %d hits (ping %d, pong %d)", n, 2*n, n, n))
}

func TestDemoPingPong(t *testing.T) {
	out := runOK(t, "demo", "pingpong", "-n", "3")
	assert.Equal(t, strings.Join(pingPongTranscript(3), "\n")+"\n", out)

	out = runOK(t, "demo", "pingpong")
	assert.Equal(t, strings.Join(pingPongTranscript(10), "\n")+"\n", out, "default is 10 rallies")
}

func TestDemoPingPongJSON(t *testing.T) {
	var res pingPongResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "demo", "pingpong", "-n", "2", "-o", "json")), &res))
	assert.Equal(t, "pingpong", res.Demo)
	assert.Equal(t, 2, res.Rallies)
	assert.Equal(t, 2, res.PingHits)
	assert.Equal(t, 2, res.PongHits)
	assert.Positive(t, res.Steps)
	assert.Equal(t, pingPongTranscript(2), res.Transcript)
}

var benchNames = []string{"Yield", "ChannelPingPong", "Spawn", "IdleTasklets", "IdleActors"}

func TestBenchTable(t *testing.T) {
	out := runOK(t, "bench", "--benchtime", "1x", "--skip-skynet")
	lines := strings.Split(out, "\n")
	require.NotEmpty(t, lines)
	for _, col := range []string{"benchmark", "tasklets/op", "goroutines/op", "speedup", "allocs/op"} {
		assert.Contains(t, lines[0], col)
	}
	for _, name := range benchNames {
		assert.Condition(t, func() bool {
			for _, l := range lines[1:] {
				if strings.HasPrefix(l, name+" ") {
					return true
				}
			}
			return false
		}, "no row for %s in\n%s", name, out)
	}
	assert.NotContains(t, out, "Skynet ")
	assert.Contains(t, out, "B/tasklet")
	assert.Contains(t, out, "B/actor")
	assert.Contains(t, out, "skipped: Skynet")
}

func TestBenchJSON(t *testing.T) {
	var rep benchReport
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "bench", "--benchtime", "1x", "--skip-skynet", "-o", "json")), &rep))
	assert.Equal(t, "1x", rep.Benchtime)
	assert.Equal(t, runtime.GOMAXPROCS(0), rep.GOMAXPROCS)
	assert.Equal(t, []string{"Skynet"}, rep.Skipped)
	require.Len(t, rep.Results, len(benchNames))
	for i, r := range rep.Results {
		assert.Equal(t, benchNames[i], r.Name)
		assert.Equal(t, 1, r.Tasklets.N, r.Name)
		assert.Positive(t, r.Tasklets.NsPerOp, r.Name)
		if unit, idle := map[string]string{"IdleTasklets": "B/tasklet", "IdleActors": "B/actor"}[r.Name]; idle {
			assert.Nil(t, r.Goroutines)
			assert.Positive(t, r.Tasklets.Extra[unit], r.Name)
			continue
		}
		require.NotNil(t, r.Goroutines, r.Name)
		assert.Equal(t, 1, r.Goroutines.N, r.Name)
		assert.InDelta(t, r.Goroutines.NsPerOp/r.Tasklets.NsPerOp, r.Speedup, 1e-9, r.Name)
	}
}

// The bench command leaves testing's -test.benchtime as it found it.
func TestBenchRestoresBenchtime(t *testing.T) {
	f := flag.Lookup("test.benchtime")
	require.NotNil(t, f)
	before := f.Value.String()
	runOK(t, "bench", "--benchtime", "1x", "--skip-skynet", "-o", "json")
	assert.Equal(t, before, f.Value.String())

	_, err := setBenchtime("0x")
	assert.True(t, isUsageError(err))
	assert.Equal(t, before, f.Value.String())
}

// Loading from a folder that does not exist fails and leaves no folder.
func TestDemoGameAILoadMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nosuch")
	code, _, errOut := run(t, "demo", "gameai", "--load", "--data", dir)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "no saved game to load in "+dir)
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, fs.ErrNotExist, "the folder is not created")
}
