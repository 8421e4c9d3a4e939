package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// A worker stopped (SIGSTOP) when its coordinator died is killed by the
// pid in its record in DIR/run. A record damaged to name another live
// process got that process killed instead. The record now carries the
// worker's start time, and a pid whose process started at another time is
// left alone: the coordinator stops, naming the socket still held.
// Replaced and resumed, the stopped worker leaves its replacement's files.
func TestADamagedRecordGetsNoOtherProcessKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p := newClusterProcs(t, 2, -1)
	p.orphan = 2 * time.Second // the stopped worker, resumed, ends soon
	coord := p.start(ctx)
	cl := p.dial(ctx)
	col, want := spawnWork(t, ctx, cl, 4, 2000, 200)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	stopped, node := st.Workers[0].Pid, st.Workers[0].Node

	bystander := exec.Command("sleep", "600")
	require.NoError(t, bystander.Start())
	t.Cleanup(func() { _ = bystander.Process.Kill(); _ = bystander.Wait() })

	sigstop(t, stopped)
	t.Cleanup(func() { _ = syscall.Kill(stopped, syscall.SIGKILL) })
	coord.kill9(t)
	rec := filepath.Join(p.dir, "run", fmt.Sprintf("w%d.json", node))
	b, err := os.ReadFile(rec)
	require.NoError(t, err)
	pid := regexp.MustCompile(`"pid":\d+`)
	require.Equal(t, fmt.Sprintf(`"pid":%d`, stopped), pid.FindString(string(b)))
	require.NoError(t, os.WriteFile(rec, pid.ReplaceAll(b, fmt.Appendf(nil, `"pid":%d`, bystander.Process.Pid)), 0o600))

	next, _ := p.launch(false)
	select {
	case <-next.done:
	case <-ctx.Done():
		require.FailNow(t, "the coordinator neither stopped nor came up")
	}
	assert.Error(t, next.err, "it cannot start a worker in place of the one that holds its socket")
	assert.Contains(t, p.out.String(), "pid is not trusted: it names a process that is not the worker that wrote it")
	assert.Regexp(t, fmt.Sprintf(`another process is listening on \S*sock/w%d`, node), p.out.String())
	assert.True(t, cluster.PidAlive(bystander.Process.Pid), "the process the damaged record names runs on")

	// The coordinator that gave up left the stopped worker's socket file,
	// so the next start names it again.
	sock := filepath.Join(p.dir, "sock", fmt.Sprintf("w%d", node))
	_, err = os.Lstat(sock)
	require.NoError(t, err, "the socket file of the stopped worker is kept")

	// Taken for gone instead (its file removed by hand), it is replaced;
	// resumed, it ends as an orphan and leaves its replacement's socket
	// and record alone, which it used to remove by their paths.
	require.NoError(t, os.Remove(sock))
	coord = p.start(ctx)
	cl = p.dial(ctx)
	require.NoError(t, syscall.Kill(stopped, syscall.SIGCONT))
	for cluster.PidAlive(stopped) && ctx.Err() == nil {
		waitABit(ctx)
	}
	require.False(t, cluster.PidAlive(stopped), "the resumed worker ends after --orphan-after")
	for _, f := range []string{sock, rec} {
		_, err := os.Lstat(f)
		assert.NoError(t, err, "the replacement's %s", f)
	}
	xor, got := collected(t, ctx, cl, col)
	assert.Equal(t, 4, got)
	assert.Equal(t, want(), xor, "restored from the newest checkpoint, the result is exact")
	require.NoError(t, cl.Down(ctx))
	coord.exited(t)
	assert.NoError(t, coord.err)
	assert.True(t, cluster.PidAlive(bystander.Process.Pid))
	p.assertNothingLeft(ctx)
}
