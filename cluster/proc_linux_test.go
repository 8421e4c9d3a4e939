package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWroteRecordTellsTheWorkerFromAnotherProcess(t *testing.T) {
	me := workerRecord{Node: 1, Pid: os.Getpid(), Start: procStart(os.Getpid())}
	require.NotZero(t, me.Start)
	assert.True(t, wroteRecord(me))

	other := exec.Command("sleep", "60")
	require.NoError(t, other.Start())
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	// Another live process under the record's start time (a damaged pid),
	// the right pid under another start (a reused pid), no start at all
	// (an older record), and no such process.
	assert.False(t, wroteRecord(workerRecord{Pid: other.Process.Pid, Start: me.Start}))
	assert.False(t, wroteRecord(workerRecord{Pid: me.Pid, Start: me.Start + 1}))
	assert.False(t, wroteRecord(workerRecord{Pid: me.Pid}))
	assert.False(t, wroteRecord(workerRecord{Pid: 1 << 30, Start: me.Start}))
}

func TestProcStatReadsPastANameWithParentheses(t *testing.T) {
	// A command named "a) 9 9 (b" shifts the fields of a naive split.
	name := filepath.Join(t.TempDir(), "a) 9 9 (b")
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(sleep, name))
	cmd := exec.Command(name, "60")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool { return pidState(cmd.Process.Pid) == 'S' }, 10*time.Second, time.Millisecond)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	require.NoError(t, err)
	require.Contains(t, string(stat), "(a) 9 9 (b)")
	assert.GreaterOrEqual(t, procStart(cmd.Process.Pid), procStart(os.Getpid()), "started after this test")
	assert.True(t, wroteRecord(workerRecord{Pid: cmd.Process.Pid, Start: procStart(cmd.Process.Pid)}))
}

// An adopted worker is stopped by its pid. A pid whose process started at
// another time than the worker did is another process (the pid reused):
// it is left alone.
func TestStopPidLeavesAReusedPidAlone(t *testing.T) {
	other := exec.Command("sleep", "60")
	require.NoError(t, other.Start())
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	pid := other.Process.Pid
	start := procStart(pid)
	require.NoError(t, stopPid(pid, start+1, 0))
	assert.True(t, pidAlive(pid), "another start time: not the worker")

	require.NoError(t, stopPid(pid, start, 50*time.Millisecond))
	assert.False(t, pidAlive(pid), "the worker's own start time: killed")
}
