package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// A worker's output reaches cluster up's stderr line by line: its log
// records as they are (they carry their node key; a prefix would double it
// and break a JSON line), anything else prefixed with the worker's name.
func TestCopyLinesLeavesLogRecordsUnprefixed(t *testing.T) {
	in := strings.Join([]string{
		`{"time":"2026-01-01T00:00:00Z","level":"WARN","msg":"ipc: link closed","node":2}`,
		`time=2026-01-01T00:00:00.000Z level=WARN msg="ipc: link closed" node=2`,
		`collector t5: 4 digests, xor 00ff`,
		`panic: boom`,
	}, "\n") + "\n"
	var out bytes.Buffer
	copyLines(&out, io.NopCloser(strings.NewReader(in)), "w2| ", nil)
	assert.Equal(t, strings.Join([]string{
		`{"time":"2026-01-01T00:00:00Z","level":"WARN","msg":"ipc: link closed","node":2}`,
		`time=2026-01-01T00:00:00.000Z level=WARN msg="ipc: link closed" node=2`,
		`w2| collector t5: 4 digests, xor 00ff`,
		`w2| panic: boom`,
	}, "\n")+"\n", out.String())
}

// A failed tasklet is logged with the project's keys (tasklet, kind), not
// only inside the error's text.
func TestTaskletFailedLogsTheProjectsKeys(t *testing.T) {
	var buf bytes.Buffer
	w := &worker{log: slog.New(slog.NewJSONHandler(&buf, nil)).With("node", 3)}
	w.taskletFailed(&scheduler.TaskletError{ID: 7, Kind: "cluster.work", Step: 2, Err: errors.New("no such channel ch9")})
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
	assert.Equal(t, "cluster: tasklet failed", rec["msg"])
	assert.EqualValues(t, 3, rec["node"])
	assert.Equal(t, "t7", rec["tasklet"])
	assert.Equal(t, "cluster.work", rec["kind"])
	assert.EqualValues(t, 2, rec["step"])
	assert.Equal(t, "no such channel ch9", rec["err"], "what went wrong, without the tasklet and kind again")
}
