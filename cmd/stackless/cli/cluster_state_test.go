package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

func TestStatusSaysLoudlyThatTheClusterIsDown(t *testing.T) {
	for _, tc := range []struct {
		state, line string
		down        bool
	}{
		{state: "running"},
		{state: "recovering: rollback failed 1 of 5 times, next try in 250ms: boom", line: "| Recovering: rollback failed 1 of 5 times"},
		{state: "down: rollback failed 5 times: boom", line: "| Down: rollback failed 5 times: boom", down: true},
	} {
		st := cluster.Status{Dir: "d", State: tc.state, Note: "adopted 3 worker(s)"}
		var b bytes.Buffer
		writeStatus(&b, st)
		assert.Contains(t, b.String(), "cluster: "+tc.state)
		assert.Contains(t, b.String(), "at start: adopted 3 worker(s)")
		if tc.line != "" {
			assert.Contains(t, statusLine(st), tc.line)
		} else {
			assert.NotContains(t, statusLine(st), "running")
		}
		err := healthError(st)
		if !tc.down {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, "`cluster status` exits non-zero")
		assert.Contains(t, err.Error(), "down: rollback failed 5 times: boom")
		assert.Contains(t, err.Error(), "stackless cluster restore --cluster d")
	}
}

// A crash loop is said in the summary line, and status exits non-zero
// with what to do.
func TestStatusSaysACrashLoop(t *testing.T) {
	st := cluster.Status{Dir: "d", State: "CRASH LOOP: 3 faults in a row, each within 30s of a rollback to generation 4, the last: worker 1 died; rolling back again in 1s"}
	var b bytes.Buffer
	writeStatus(&b, st)
	assert.Contains(t, b.String(), "cluster: "+st.State)
	assert.Contains(t, statusLine(st), "| CRASH LOOP: 3 faults in a row")
	err := healthError(st)
	require.Error(t, err, "`cluster status` exits non-zero")
	assert.Contains(t, err.Error(), "the cluster in d is in a crash loop")
	assert.Contains(t, err.Error(), "`stackless checkpoint ls d`, then `stackless cluster restore GEN --cluster d`")
}

// A worker that did not answer status (a stopped process) is a row of its
// own, named in the summary line, and status exits non-zero after the
// table, saying what the coordinator does about it.
func TestStatusNamesAWorkerThatDidNotAnswer(t *testing.T) {
	st := cluster.Status{Dir: "d", State: "running", Workers: []cluster.WorkerStats{
		{Node: 1, Pid: 11, Tasklets: 10, StepsPerSec: 80},
		{Node: 2, Pid: 22, Err: "did not answer within 2s"},
	}}
	var b bytes.Buffer
	writeStatus(&b, st)
	assert.Regexp(t, `(?m)^2\s+22\s.*NOT ANSWERING$`, b.String())
	assert.Regexp(t, `(?m)^1\s+11\s.*running$`, b.String())
	assert.Contains(t, b.String(), "worker 2 (pid 22): did not answer within 2s")
	assert.Contains(t, statusLine(st), "| NOT ANSWERING: worker 2")
	err := healthError(st)
	require.Error(t, err, "`cluster status` exits non-zero")
	assert.Contains(t, err.Error(), "worker 2 of the cluster in d did not answer")
	assert.Contains(t, err.Error(), "run status again")

	assert.Equal(t, 1, st.Answering(), "one of the two answered")

	st.Workers[1].Err = ""
	assert.Equal(t, 2, st.Answering())
	assert.NoError(t, healthError(st))
	assert.NotContains(t, statusLine(st), "NOT ANSWERING")
}

// Every cluster command names the folder --cluster except up, which said
// "unknown flag: --cluster": up takes it as --data.
func TestClusterUpTakesClusterForData(t *testing.T) {
	cmd := newClusterUpCmd()
	require.NoError(t, cmd.ParseFlags([]string{"--cluster", "/tmp/x", "-n", "1"}))
	assert.Equal(t, "/tmp/x", cmd.Flags().Lookup("data").Value.String())
	assert.Equal(t, "data", cmd.Flags().Lookup("cluster").Name, "one flag, two names")
}

// Checkpoints that fail in a row (a tasklet grown past the record limit, a
// full disk) were a line in the coordinator's log only: status showed the
// generation before and exited 0, while a crash would lose all since.
func TestStatusSaysCheckpointsAreFailing(t *testing.T) {
	since := time.Date(2026, 12, 5, 9, 30, 0, 0, time.Local)
	st := cluster.Status{Dir: "d", State: "running", LastGen: 7, CheckpointFailures: 3, FailingSince: since,
		CheckpointErr: "pickle: tasklet t5 (kind big): record too large"}
	var b bytes.Buffer
	writeStatus(&b, st)
	assert.Contains(t, b.String(), "CHECKPOINTS FAILING: 3 in a row since 09:30:00, the work since generation 7 is not saved; the newest failure: pickle: tasklet t5 (kind big): record too large\n")
	assert.Contains(t, statusLine(st), "| CHECKPOINTS FAILING: 3 in a row")
	err := healthError(st)
	require.Error(t, err, "`cluster status` exits non-zero")
	assert.Contains(t, err.Error(), "checkpoints are failing (3 in a row): a crash now loses the work since generation 7")
	assert.Contains(t, err.Error(), "stackless cluster checkpoint --cluster d")

	st.CheckpointFailures = 0
	b.Reset()
	writeStatus(&b, st)
	assert.NotContains(t, b.String(), "FAILING")
	assert.NotContains(t, statusLine(st), "FAILING")
	assert.NoError(t, healthError(st))
}
