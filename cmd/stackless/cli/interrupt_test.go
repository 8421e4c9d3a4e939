package cli

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envSayArmed makes a child CLI print "test: signal ready" once it takes
// interrupts and "test: signal armed" once it took one.
const envSayArmed = "STACKLESS_CLI_TEST_SAY_ARMED"

// A command busy in a step that does not look at its context (here
// waiting for a database another process holds, with --lock-timeout 1h)
// ignored every Ctrl-C; the second one now ends it at once.
func TestASecondInterruptStopsAtOnce(t *testing.T) {
	locked := lockedStore(t) // held by this process
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, waitFor, _ := startChildCLI(t, ctx, nil, "inspect", locked, "--lock-timeout", "1h")
	waitFor("test: signal ready")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	waitFor("test: signal armed")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	require.NoError(t, ctx.Err(), "the second interrupt did not end the child")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	ws := ee.Sys().(syscall.WaitStatus)
	assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "ended by SIGINT: %v", ws)
}

// startChildCLI runs the CLI with args in a child process (under the
// command prefix, such as nohup, when given), telling it to say when it
// takes signals; waitFor waits for a line of its output, and seen returns
// every line read so far.
func startChildCLI(t *testing.T, ctx context.Context, prefix []string, args ...string) (cmd *exec.Cmd, waitFor func(string), seen func() []string) {
	t.Helper()
	argv := append(append(prefix[:len(prefix):len(prefix)], os.Args[0], "-test.run=^$"), args...)
	cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), envCLIMain+"=1", envSayArmed+"=1")
	r, w, err := os.Pipe() // stdout and stderr, in the order written
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(t, cmd.Start())
	w.Close()
	t.Cleanup(func() { r.Close() })
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	waitFor = func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "the child ended before %q; it said:\n%s", want, strings.Join(got, "\n"))
				got = append(got, l)
				if strings.Contains(l, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("the child never said %q; it said:\n%s", want, strings.Join(got, "\n"))
			}
		}
	}
	// seen, once the child exited, is everything it said: up to the end of
	// the pipe, not up to what the reader had got to (the last line, the
	// one a test looks for, was sometimes not yet read).
	seen = func() []string {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return got
				}
				got = append(got, l)
			case <-ctx.Done():
				return got
			}
		}
	}
	return cmd, waitFor, seen
}

// A closed terminal sends SIGHUP, whose default action ended a game at
// once, losing its play since the last autosave, without a word. The CLI
// now stops on it as on Ctrl-C: the game saves, and the exit is 129. Under
// nohup, which ignores SIGHUP, the CLI leaves it ignored.
func TestHangUpSavesTheGameButNotUnderNohup(t *testing.T) {
	for _, nohup := range []bool{false, true} {
		t.Run(map[bool]string{false: "terminal", true: "nohup"}[nohup], func(t *testing.T) {
			var prefix []string
			if nohup {
				p, err := exec.LookPath("nohup")
				require.NoError(t, err, "nohup is part of coreutils")
				prefix = []string{p}
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			cmd, waitFor, seen := startChildCLI(t, ctx, prefix, "demo", "gameai", "--data", dir, "--entities", "200",
				"--ticks", "100000000", "--save-every", "100000000", "--stats-every", "100")
			waitFor("tick 100 ") // playing: a stats line
			require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
			if nohup {
				// Pending together, SIGHUP (1) is delivered before SIGINT
				// (2): exit 130 says the hang-up was ignored.
				require.NoError(t, cmd.Process.Signal(os.Interrupt))
			}
			err := cmd.Wait()
			require.NoError(t, ctx.Err(), "the child did not stop")
			var ee *exec.ExitError
			out := strings.Join(seen(), "\n")
			require.True(t, errors.As(err, &ee), "%v\n%s", err, out)
			if nohup {
				assert.Equal(t, exitInterrupted, ee.ExitCode(), out)
			} else {
				assert.Equal(t, exitHungUp, ee.ExitCode(), out)
				assert.Contains(t, out, "stackless: hung up (SIGHUP")
			}
			assert.Contains(t, out, "saved tick", "the game was saved before it stopped")
		})
	}
}
