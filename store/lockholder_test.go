package store_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// holdEnv makes the test binary a child that holds a database open until
// its stdin closes.
const holdEnv = "STACKLESS_TEST_HOLD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(fullEnv); path != "" {
		saveOverLimit(path) // diskfull_linux_test.go
		os.Exit(0)
	}
	if path := os.Getenv(asLimitEnv); path != "" {
		saveUnderASLimit(path) // aslimit_linux_test.go
		os.Exit(0)
	}
	if path := os.Getenv(holdEnv); path != "" {
		db, err := store.Open(path)
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = db.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A database locked by another process names that process: two `demo
// longtask` runs on one file, or `inspect` while a program runs, said only
// "held open by another process (a running stackless node or CLI?)".
func TestLockedNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		stdin.Close()
		assert.NoError(t, cmd.Wait())
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	for _, readOnly := range []bool{false, true} {
		opts := []store.Option{store.WithTimeout(20 * time.Millisecond)}
		if readOnly {
			opts = append(opts, store.WithReadOnly())
		}
		_, err = store.Open(path, opts...)
		require.ErrorIs(t, err, store.ErrLocked)
		if runtime.GOOS == "linux" {
			assert.Contains(t, err.Error(), "held open by PID "+strconv.Itoa(cmd.Process.Pid)+" (")
		}
	}
	_, err = store.MoveAside(path)
	require.ErrorIs(t, err, store.ErrLocked)
	if runtime.GOOS == "linux" {
		assert.Contains(t, err.Error(), "held open by PID "+strconv.Itoa(cmd.Process.Pid))
	}
}
