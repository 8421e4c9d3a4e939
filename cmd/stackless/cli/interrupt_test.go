package cli

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
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
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "inspect", locked, "--lock-timeout", "1h")
	cmd.Env = append(os.Environ(), envCLIMain+"=1", envSayArmed+"=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	waitFor := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "the child ended before %q", want)
				if l == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("the child never said %q", want)
			}
		}
	}
	waitFor("test: signal ready")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	waitFor("test: signal armed")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	require.NoError(t, ctx.Err(), "the second interrupt did not end the child")
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	ws := ee.Sys().(syscall.WaitStatus)
	assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGINT, "ended by SIGINT: %v", ws)
}
