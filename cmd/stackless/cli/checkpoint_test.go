package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

func storeGens(t *testing.T, path string) []store.GenInfo {
	t.Helper()
	db, err := store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	gens, err := db.List()
	require.NoError(t, err)
	return gens
}

func TestCheckpointLs(t *testing.T) {
	path, _ := pipelineStore(t)
	want := storeGens(t, path)

	var got []genView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "ls", path, "-o", "json")), &got))
	require.Len(t, got, len(want))
	for i, g := range want {
		assert.Equal(t, g.Gen, got[i].Gen)
		assert.Equal(t, g.Base, got[i].Base)
		assert.Equal(t, g.Records, got[i].Records)
		assert.Equal(t, g.Bytes, got[i].Bytes)
		assert.True(t, g.Time.Equal(got[i].Time))
	}

	out := runOK(t, "checkpoint", "ls", path)
	rows := regexp.MustCompile(`(?m)^(\d+)\s+(full|\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(\d+)\s+(\d+)\s+(\d+)$`).FindAllStringSubmatch(out, -1)
	require.Len(t, rows, len(want), out)
	for i, g := range want {
		assert.Equal(t, fmt.Sprint(g.Gen), rows[i][1])
		assert.Equal(t, fmt.Sprint(g.Records), rows[i][3])
	}

	out = runOK(t, "checkpoint", "ls", path, "--limit", "2")
	assert.Contains(t, out, fmt.Sprintf("... %d older", len(want)-2))
	assert.Regexp(t, fmt.Sprintf(`(?m)^%d\s`, want[len(want)-1].Gen), out, "the limit keeps the newest")
	assert.NotRegexp(t, fmt.Sprintf(`(?m)^%d\s`, want[0].Gen), out)
}

func TestCheckpointLsSnapshot(t *testing.T) {
	path, _ := pipelineSnapshot(t)
	cp, err := store.ReadFile(path)
	require.NoError(t, err)
	var got []genView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "ls", path, "-o", "json")), &got))
	require.Len(t, got, 1)
	assert.True(t, got[0].Full)
	assert.Equal(t, len(cp.Records), got[0].Records)
}

func TestCheckpointRm(t *testing.T) {
	path, _ := pipelineStore(t)
	gens := storeGens(t, path) // 1 full, 2 on 1, 3 on 2, 4 full, 5 on 4, 6 on 5
	require.Len(t, gens, 6)
	require.Equal(t, uint64(4), gens[4].Base)

	code, out, errOut := run(t, "checkpoint", "rm", path, "4")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "incremental generation(s) 5 are based on it", "the store's refusal")
	assert.Len(t, storeGens(t, path), 6, "nothing deleted")

	// Named in any order, dependents go before their bases.
	assert.Equal(t, "deleted generation 3\ndeleted generation 2\ndeleted generation 1\n", runOK(t, "checkpoint", "rm", path, "1", "3", "2"))
	var res rmResult
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "checkpoint", "rm", path, "6", "-o", "json")), &res))
	assert.Equal(t, rmResult{File: path, Deleted: []uint64{6}}, res)
	left := storeGens(t, path)
	require.Len(t, left, 2)
	assert.Equal(t, []uint64{4, 5}, []uint64{left[0].Gen, left[1].Gen})

	// An error part way reports what was deleted before it.
	code, out, errOut = run(t, "checkpoint", "rm", path, "2", "5")
	assert.Equal(t, 1, code)
	assert.Equal(t, "deleted generation 5\n", out)
	assert.Contains(t, errOut, "generation 2 is not in")
	left = storeGens(t, path)
	require.Len(t, left, 1)
	assert.Equal(t, uint64(4), left[0].Gen)
}

func TestCheckpointRmErrors(t *testing.T) {
	path, _ := pipelineStore(t)
	snap, _ := pipelineSnapshot(t)
	locked := lockedStore(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not a number", []string{path, "two"}, 2, `"two" is not a generation number`},
		{"zero", []string{path, "0"}, 2, "generations are numbered from 1 up; `stackless checkpoint ls "},
		{"negative", []string{path, "-1"}, 2, `-1 is not a flag, and this command takes no negative numbers`},
		{"negative after --", []string{path, "--", "-1"}, 2, `"-1" is not a generation number`},
		{"no generation", []string{path}, 2, "arg"},
		{"snapshot file", []string{snap, "1"}, 1, "is a snapshot file"},
		{"locked file", []string{locked, "1", "--lock-timeout", "10ms"}, 1, "locked by another process"},
		{"missing file", []string{filepath.Join(t.TempDir(), "no.db"), "1"}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"checkpoint", "rm"}, tc.args...)...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

// TestCheckpointExport exports generations as snapshot files and checks
// that each holds the same world as the database and that it runs on to
// the result of an uninterrupted run.
func TestCheckpointExport(t *testing.T) {
	ref := scheduler.New()
	res := testworld.Pipeline(ref, pipeItems, pipeMixers, pipeRounds)
	require.NoError(t, ref.Run(context.Background()))
	want := testworld.Result(ref, res)
	require.NotEmpty(t, want)

	path, gens := pipelineStore(t)
	dir := t.TempDir()
	for _, g := range []storedGen{gens[len(gens)-1], gens[2]} {
		out := filepath.Join(dir, fmt.Sprintf("gen%d.snapshot", g.gen))
		args := []string{"checkpoint", "export", path, out, "-o", "json"}
		if g.gen != gens[len(gens)-1].gen {
			args = append(args, "--gen", fmt.Sprint(g.gen))
		}
		var er exportResult
		require.NoError(t, json.Unmarshal([]byte(runOK(t, args...)), &er))
		assert.Equal(t, exportResult{File: path, Gen: g.gen, To: out, Tasklets: len(g.tasklets), Channels: len(g.channels), Bytes: er.Bytes}, er)
		assert.Positive(t, er.Bytes)

		fromDB := inspectJSON(t, path, "--gen", fmt.Sprint(g.gen))
		fromFile := inspectJSON(t, out)
		assert.Equal(t, fromDB.Tasklets, fromFile.Tasklets)
		assert.Equal(t, fromDB.Channels, fromFile.Channels)
		assert.Equal(t, fromDB.Header, fromFile.Header)

		w, err := store.LoadFile(out, testworld.Registry())
		require.NoError(t, err)
		s, err := scheduler.Restore(w)
		require.NoError(t, err)
		require.NoError(t, s.Run(context.Background()))
		assert.Equal(t, want, testworld.Result(s, res), "the exported generation %d runs on to the unbroken result", g.gen)
	}

	out := filepath.Join(dir, "again.snapshot")
	assert.Contains(t, runOK(t, "checkpoint", "export", path, out), fmt.Sprintf("wrote generation %d of %s to %s", gens[len(gens)-1].gen, path, out))
	code, _, errOut := run(t, "checkpoint", "export", path, out)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "pass --force")
	runOK(t, "checkpoint", "export", path, out, "--force", "--gen", fmt.Sprint(gens[0].gen))
	assert.Equal(t, gens[0].gen, inspectJSON(t, out).Gen)
}

// An export interrupted before it writes writes nothing and exits 130: the
// interrupt was ignored, and the snapshot written with exit 0.
func TestCheckpointExportInterrupted(t *testing.T) {
	path, _ := pipelineStore(t)
	out := filepath.Join(t.TempDir(), "x.snapshot")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root := NewRoot()
	var stdout, stderr bytes.Buffer
	root.SetArgs([]string{"checkpoint", "export", path, out})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	assert.Equal(t, exitInterrupted, execute(ctx, root), stderr.String())
	assert.Empty(t, stdout.String())
	_, err := os.Stat(out)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestCheckpointExportErrors(t *testing.T) {
	path, _ := pipelineStore(t)
	snap, _ := pipelineSnapshot(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown generation", []string{path, filepath.Join(dir, "a"), "--gen", "999"}, 1, "generation 999 is not in"},
		{"onto the database", []string{path, path}, 2, "would overwrite the database"},
		{"from a snapshot", []string{snap, filepath.Join(dir, "b")}, 1, "is a snapshot file already"},
		{"no output path", []string{path}, 2, "arg"},
		{"into a missing directory", []string{path, filepath.Join(dir, "no", "such", "c")}, 1, "write snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"checkpoint", "export"}, tc.args...)...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "failed exports leave no file behind")

	// --force replaced whatever was there: as root /dev/full became a
	// snapshot file; a directory's name was taken too.
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for out, kind := range map[string]string{fifo: "a named pipe (FIFO)", t.TempDir(): "a directory", "": "empty"} {
		code, _, errOut := run(t, "checkpoint", "export", path, out, "--force")
		assert.Equal(t, exitUsage, code, errOut)
		assert.Contains(t, errOut, kind)
		if out != "" {
			assert.Contains(t, errOut, out+" is "+kind+", not a regular file")
			fi, err := os.Lstat(out)
			require.NoError(t, err)
			assert.False(t, fi.Mode().IsRegular(), "%s was replaced", out)
		}
	}
}

func TestCheckpointGroup(t *testing.T) {
	out := runOK(t, "checkpoint", "--help")
	for _, c := range []string{"ls", "rm", "export", "--lock-timeout"} {
		assert.Contains(t, out, c)
	}
	code, _, errOut := run(t, "checkpoint", "nosuch")
	assert.Equal(t, 2, code)
	assert.True(t, strings.HasPrefix(errOut, "stackless: "))
}

func TestCompleteGenerations(t *testing.T) {
	path, gens := pipelineStore(t)
	code, out, _ := run(t, "__complete", "checkpoint", "rm", path, "")
	require.Equal(t, 0, code)
	for _, g := range gens {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%d\t`, g.gen), out)
	}
	code, out, _ = run(t, "__complete", "inspect", path, "--gen", "")
	require.Equal(t, 0, code)
	assert.Regexp(t, fmt.Sprintf(`(?m)^%d\t`, gens[0].gen), out)
}
