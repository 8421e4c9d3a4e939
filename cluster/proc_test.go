package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcCopiesOutputWithAPrefixAndReportsTheExit(t *testing.T) {
	var out, errOut strings.Builder
	p, err := startProc(7, exec.Command("sh", "-c", "echo one; echo two; echo bad >&2; exit 3"), &out, &errOut)
	require.NoError(t, err)
	<-p.done
	assert.Equal(t, "w7| one\nw7| two\n", out.String())
	assert.Equal(t, "w7| bad\n", errOut.String())
	assert.True(t, p.exited())
	assert.False(t, p.deliberate(), "nobody asked it to end")
	assert.Contains(t, p.describe(), "exit status 3")
}

func TestProcKillEndsItAtOnce(t *testing.T) {
	var out strings.Builder
	p, err := startProc(1, exec.Command("sleep", "60"), &out, &out)
	require.NoError(t, err)
	assert.False(t, p.exited())
	start := time.Now()
	require.NoError(t, p.kill())
	assert.True(t, p.exited())
	assert.True(t, p.deliberate())
	assert.Less(t, time.Since(start), 30*time.Second)
	assert.Contains(t, p.describe(), "killed")
	require.NoError(t, p.kill(), "killing twice is harmless")
}

func TestProcStopWaitsThenKills(t *testing.T) {
	var out strings.Builder
	p, err := startProc(1, exec.Command("sleep", "60"), &out, &out)
	require.NoError(t, err)
	require.NoError(t, p.stop(10*time.Millisecond))
	assert.True(t, p.exited(), "a worker that does not stop in time is killed")
	q, err := startProc(2, exec.Command("true"), &out, &out)
	require.NoError(t, err)
	require.NoError(t, q.stop(time.Minute))
	assert.Equal(t, "exited normally", q.describe())
}

func TestStartProcOfAMissingProgram(t *testing.T) {
	var out strings.Builder
	_, err := startProc(4, exec.Command(filepath.Join(t.TempDir(), "nope")), &out, &out)
	assert.ErrorContains(t, err, "worker 4")
}

func TestLayoutPrepareMakesAPrivateSocketFolder(t *testing.T) {
	l := dirLayout{Dir: filepath.Join(t.TempDir(), "c")}
	require.NoError(t, l.prepare())
	fi, err := os.Stat(l.Sockets())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	require.NoError(t, os.Chmod(l.Sockets(), 0o755))
	require.NoError(t, l.prepare())
	fi, err = os.Stat(l.Sockets())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "a folder open to others is made private again")
	assert.Equal(t, filepath.Join(l.Dir, "sock", "w12"), l.Worker(12))
}

func TestSocketPathLength(t *testing.T) {
	assert.NoError(t, checkSockPath("/tmp/c/sock/w1"))
	long := "/" + strings.Repeat("d", 120) + "/sock/c"
	err := checkSockPath(long)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shorter --data")
	assert.Error(t, dirLayout{Dir: "/" + strings.Repeat("d", 95)}.checkSockets(maxWorkerNode), "the longest worker socket counts")
}

func TestEnsureSecretCreatesAPrivateSecretOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	a, err := EnsureSecret(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := EnsureSecret(path)
	require.NoError(t, err)
	assert.Equal(t, a, b, "an existing secret is kept")
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = EnsureSecret(path)
	assert.Error(t, err, "a secret others can read is refused")
}

// A directory at DIR/nats.seed was reported by its mode bits ("mode 0755
// ... are open to group or others; run: chmod 600"); a FIFO given as
// --creds blocked the worker reading it.
func TestSeedOrCredsThatIsNoFileSaysWhatItIs(t *testing.T) {
	dir := t.TempDir()
	l := dirLayout{Dir: dir}
	require.NoError(t, os.Mkdir(l.NATSSeed(), 0o755))
	_, err := ensureSeed(l.NATSSeed())
	require.Error(t, err)
	assert.Contains(t, err.Error(), l.NATSSeed()+" is a directory, not a regular file: the cluster's NATS credentials")
	assert.Contains(t, err.Error(), "remove it")
	assert.NotContains(t, err.Error(), "chmod")

	fifo := filepath.Join(dir, "creds")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	err = checkCreds(fifo)
	assert.ErrorIs(t, err, errCreds)
	assert.ErrorContains(t, err, fifo+" is a named pipe (FIFO), not a regular file")
	_, err = connectOutside("nats://127.0.0.1:1", fifo, "test")
	assert.ErrorContains(t, err, fifo+" is a named pipe (FIFO), not a regular file")
}
