package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/longtask/task"
)

func TestDemoLongtask(t *testing.T) {
	ref, err := task.Run(context.Background(), task.Options{Docs: 40, Dir: t.TempDir()})
	require.NoError(t, err)

	dir := t.TempDir()
	code, out, errOut := run(t, "demo", "longtask", "--docs", "40", "--data", dir)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, ref.Result.String()+"\n", out)
	assert.Contains(t, errOut, "starting: 40 documents")
	assert.NotContains(t, errOut, "\r", "no progress bar off a terminal")

	// Once finished, the stored run is only reported, with its own size.
	var res longtaskResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "demo", "longtask", "--data", dir, "-o", "json")), &res))
	assert.Equal(t, "longtask", res.Demo)
	assert.True(t, res.AlreadyDone)
	assert.Equal(t, ref.Result, res.Result)
	assert.Positive(t, res.Gen)

	code, _, errOut = run(t, "demo", "longtask", "--data", dir, "--docs", "41")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--fresh")

	require.NoError(t, json.Unmarshal([]byte(runOK(t, "demo", "longtask", "--data", dir, "--docs", "41", "--fresh", "-o", "json")), &res))
	assert.False(t, res.AlreadyDone)
	assert.Equal(t, 41, res.Result.Docs)

	// The demo's database is what inspect reads.
	v := inspectJSON(t, dir+"/"+task.DBName)
	assert.Equal(t, res.Gen, v.Gen)
	assert.Empty(t, v.Tasklets, "a finished run")
	require.NotEmpty(t, v.Channels)
}

func TestDemoLongtaskUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--docs", "0"}, {"--workers", "0"}, {"--seed", "0"}, {"--checkpoint-every", "0s"}, {"extra"},
		{"--workers", "100000000"}, // was run: gigabytes, until the kernel killed it
	} {
		code, out, errOut := run(t, append([]string{"demo", "longtask", "--data", t.TempDir()}, args...)...)
		assert.Equal(t, 2, code, "%q: %s", args, errOut)
		assert.Empty(t, out)
	}
}

func TestDemoLongtaskInterrupted(t *testing.T) {
	root := NewRoot()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"demo", "longtask", "--docs", "5000", "--data", t.TempDir()})
	root.SetOut(&out)
	root.SetErr(&errOut)
	assert.Equal(t, 130, execute(ctx, root))
	assert.Contains(t, errOut.String(), "run again to resume")
	assert.Empty(t, out.String())
}
