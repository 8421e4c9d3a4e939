package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/longtask/task"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// The pipeline of the test stores: big enough to be mid-run after the
// checkpoints below.
const (
	pipeItems  = 200
	pipeMixers = 3
	pipeRounds = 10
	pipeGens   = 6
)

// storedGen is what the scheduler looked like when a generation was written.
type storedGen struct {
	gen      uint64
	steps    uint64
	tasklets []scheduler.Info
	channels []scheduler.ChannelInfo
	runQueue []uint64
}

// pipelineStore checkpoints a testworld pipeline pipeGens times mid-run
// (full and incremental generations) into a new database and returns its
// path and what each generation holds, as the live scheduler described it.
func pipelineStore(t *testing.T) (string, []storedGen) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipe.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	ck := store.NewCheckpointer(db, testworld.Registry(), store.WithFullEvery(3))
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		testworld.Pipeline(s, pipeItems, pipeMixers, pipeRounds)
		return nil
	})
	require.NoError(t, err)
	var gens []storedGen
	for range pipeGens {
		_, err := s.RunBudget(context.Background(), 50, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
		require.NoError(t, ck.Checkpoint(s))
		g := storedGen{gen: ck.Last(), steps: s.Steps(), tasklets: s.Tasklets(), channels: s.Channels()}
		for _, id := range s.RunQueue() {
			g.runQueue = append(g.runQueue, uint64(id))
		}
		gens = append(gens, g)
	}
	require.Positive(t, s.Len(), "the pipeline must still be running")
	return path, gens
}

// pipelineSnapshot saves a testworld pipeline mid-run as a snapshot file.
func pipelineSnapshot(t *testing.T) (string, storedGen) {
	t.Helper()
	s := scheduler.New(scheduler.WithKindNames(testworld.Registry().KindName))
	testworld.Pipeline(s, pipeItems, pipeMixers, pipeRounds)
	_, err := s.RunBudget(context.Background(), 77, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "pipe.snapshot")
	require.NoError(t, store.SaveFile(path, testworld.Registry(), s))
	return path, storedGen{steps: s.Steps(), tasklets: s.Tasklets(), channels: s.Channels()}
}

// inspectJSONNumbers is inspectJSON keeping numbers as printed (64-bit
// fields do not fit a float64).
func inspectJSONNumbers(t *testing.T, args ...string) worldView {
	t.Helper()
	var v worldView
	dec := json.NewDecoder(strings.NewReader(runOK(t, append([]string{"inspect", "-o", "json"}, args...)...)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
	return v
}

func inspectJSON(t *testing.T, args ...string) worldView {
	t.Helper()
	var v worldView
	out := runOK(t, append([]string{"inspect", "-o", "json"}, args...)...)
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

// sameWorld checks a decoded world against the live scheduler's view.
func sameWorld(t *testing.T, want storedGen, v worldView) {
	t.Helper()
	require.NotNil(t, v.Header)
	assert.Equal(t, want.steps, v.Header.Steps)
	require.Len(t, v.Tasklets, len(want.tasklets))
	for i, in := range want.tasklets {
		got := v.Tasklets[i]
		assert.Equal(t, uint64(in.ID), got.ID)
		assert.Equal(t, in.Kind, got.Kind)
		assert.Equal(t, uint32(1), got.Version)
		assert.Equal(t, in.State.String(), got.State)
		assert.Equal(t, in.Steps, got.Steps)
		assert.Empty(t, got.Problem)
		if in.Op != "" && in.Op != "sleeping" {
			require.NotEmpty(t, in.Chans)
			assert.Contains(t, got.WaitsOn, in.Chans[0].String(), "tasklet %v", in.ID)
		}
	}
	require.Len(t, v.Channels, len(want.channels))
	for i, ci := range want.channels {
		got := v.Channels[i]
		assert.Equal(t, uint64(ci.ID), got.ID)
		assert.Equal(t, ci.Cap, got.Cap)
		assert.Equal(t, ci.Len, got.Len)
		assert.Len(t, got.Buffer, ci.Len)
		assert.Equal(t, ci.Balance, got.Balance, "channel %v", ci.ID)
		assert.Equal(t, ci.Closed, got.Closed)
		assert.Len(t, got.Senders, len(ci.Senders))
		assert.Len(t, got.Receivers, len(ci.Receivers))
	}
}

func TestInspectStoreJSON(t *testing.T) {
	path, gens := pipelineStore(t)
	v := inspectJSON(t, path)
	assert.Equal(t, "store", v.Type)
	assert.Equal(t, path, v.File)
	require.Len(t, v.Generations, pipeGens)
	full := 0
	for i, g := range v.Generations {
		assert.Equal(t, gens[i].gen, g.Gen)
		assert.Equal(t, g.Base == 0, g.Full)
		if g.Full {
			full++
		}
		assert.Positive(t, g.Records)
	}
	assert.Equal(t, 2, full, "WithFullEvery(3): generations 1 and 4 are full")
	newest := gens[len(gens)-1]
	assert.Equal(t, newest.gen, v.Gen)
	sameWorld(t, newest, v)
	assert.Equal(t, newest.runQueue, v.Header.RunQueue)
	var kinds []string
	for _, k := range v.Header.Kinds {
		kinds = append(kinds, k.Name)
	}
	for _, k := range []string{"testworld.feeder", "testworld.mixer", "testworld.reducer"} {
		assert.Contains(t, kinds, k)
	}
	for _, tv := range v.Tasklets {
		assert.NotEmpty(t, tv.Fields, "the behavior's fields, without its kind registered")
	}
}

func TestInspectOlderGeneration(t *testing.T) {
	path, gens := pipelineStore(t)
	for _, g := range []storedGen{gens[0], gens[2], gens[4]} { // full, incremental, incremental on a later full
		v := inspectJSON(t, path, "--gen", fmt.Sprint(g.gen))
		assert.Equal(t, g.gen, v.Gen)
		sameWorld(t, g, v)
	}
}

func TestInspectStoreTable(t *testing.T) {
	path, gens := pipelineStore(t)
	newest := gens[len(gens)-1]
	out := runOK(t, "inspect", path)
	assert.Contains(t, out, "checkpoint database "+path+": 6 generations")
	assert.Regexp(t, `(?m)^GEN\s+BASE\s+TIME\s+RECORDS\s+DELETED\s+BYTES$`, out)
	assert.Len(t, regexp.MustCompile(`(?m)^\d+\s+(full|\d+)\s+\d{4}-`).FindAllString(out, -1), pipeGens, "one row per generation")
	assert.Contains(t, out, fmt.Sprintf("steps %d", newest.steps))
	assert.Contains(t, out, fmt.Sprintf("tasklets: %d\n", len(newest.tasklets)))
	assert.Contains(t, out, fmt.Sprintf("channels: %d\n", len(newest.channels)))
	assert.Regexp(t, `(?m)^ID\s+KIND\s+VERSION\s+STATE\s+WAITS ON\s+STEPS\s+FIELDS$`, out)
	assert.Regexp(t, `(?m)^ID\s+CAP\s+LEN\s+BALANCE\s+CLOSED\s+BUFFER$`, out)
	for _, in := range newest.tasklets {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%v\s+%s\s+1\s+%s\s`, in.ID, regexp.QuoteMeta(in.Kind), in.State), out)
	}
	for _, ci := range newest.channels {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%v\s+%d\s+%d\s+%d\s+(yes|no)\s+\[`, ci.ID, ci.Cap, ci.Len, ci.Balance), out)
	}
	v := inspectJSONNumbers(t, path)
	shown := 0
	for _, tv := range v.Tasklets {
		if tv.Kind == "testworld.mixer" {
			// the behavior's fields, sorted, as the README and help promise
			assert.Regexp(t, fmt.Sprintf(`(?m)^t%d\s.*\sGot=(true|false) In=%v Out=%v Rounds=%v X=%v$`,
				tv.ID, tv.Fields["In"], tv.Fields["Out"], tv.Fields["Rounds"], tv.Fields["X"]), out)
			shown++
		}
	}
	assert.Equal(t, pipeMixers, shown)
	for line := range strings.Lines(out) {
		assert.False(t, strings.HasSuffix(strings.TrimSuffix(line, "\n"), " "), "trailing space: %q", line)
	}
}

func TestInspectSnapshot(t *testing.T) {
	path, want := pipelineSnapshot(t)
	v := inspectJSON(t, path)
	assert.Equal(t, "snapshot", v.Type)
	assert.Empty(t, v.Generations)
	sameWorld(t, want, v)

	out := runOK(t, "inspect", path)
	assert.Contains(t, out, "snapshot file "+path)
	assert.Contains(t, out, fmt.Sprintf("tasklets: %d\n", len(want.tasklets)))

	code, _, errOut := run(t, "inspect", path, "--gen", "5")
	assert.Equal(t, 2, code, "a snapshot file holds one generation")
	assert.Contains(t, errOut, "snapshot file")
}

// TestInspectUnregisteredValues inspects a long-task world whose channels
// hold values of types the CLI does not know.
func TestInspectUnregisteredValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lt.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	ck := store.NewCheckpointer(db, task.Registry())
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		task.Setup(s, task.Config{Docs: 10, Workers: 2, Seed: 1})
		return nil
	})
	require.NoError(t, err)
	tally := task.Count(task.Doc{N: 0, Text: task.Document(1, 0)})
	s.PostLocal(1, tally) // a worker's tally of document 0 waits in the buffer
	require.NoError(t, ck.Checkpoint(s))
	require.NoError(t, db.Close())
	tallies, ok := s.ChannelInfo(1)
	require.True(t, ok)
	require.Equal(t, 1, tallies.Len, "the tally waits in the buffer")

	v := inspectJSON(t, path)
	require.NotEmpty(t, v.Channels)
	ch := v.Channels[0]
	assert.Empty(t, ch.Problem)
	require.Len(t, ch.Buffer, 1)
	assert.Equal(t, "longtask.tally", ch.Buffer[0].Type)
	got, ok := ch.Buffer[0].Value.(map[string]any)
	require.True(t, ok, "%#v", ch.Buffer[0].Value)
	assert.EqualValues(t, 0, got["Doc"])
	assert.EqualValues(t, tally.Words, got["Words"])

	out := runOK(t, "inspect", path)
	assert.Regexp(t, `(?m)^ch1\s+4\s+1\s+0\s+no\s+\[longtask\.tally\{Counts:map\[`, out)
	assert.Contains(t, out, "...", "a long buffer is cut")
	assert.Contains(t, out, "longtask.worker")
}

func TestInspectLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.snapshot")
	s := scheduler.New()
	testworld.Entities(s, 120)
	require.NoError(t, store.SaveFile(path, testworld.Registry(), s))
	rows := regexp.MustCompile(`(?m)^t\d+\s`)
	for _, tc := range []struct {
		args []string
		rows int
		more string
	}{
		{nil, defaultLimit, "... and 70 more"},
		{[]string{"--limit", "10"}, 10, "... and 110 more"},
		{[]string{"--limit", "0"}, 120, ""},
		{[]string{"--limit", "500"}, 120, ""},
	} {
		out := runOK(t, append([]string{"inspect", path}, tc.args...)...)
		assert.Len(t, rows.FindAllString(out, -1), tc.rows, "%q", tc.args)
		if tc.more != "" {
			assert.Contains(t, out, tc.more, "%q", tc.args)
		} else {
			assert.NotContains(t, out, "more", "%q", tc.args)
		}
	}
	v := inspectJSON(t, path)
	assert.Len(t, v.Tasklets, 120, "JSON is never cut")
	assert.Len(t, v.Channels, 120)
}

func TestInspectEmptyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	assert.Contains(t, runOK(t, "inspect", path), "no generations stored")
	v := inspectJSON(t, path)
	assert.Equal(t, "store", v.Type)
	assert.Equal(t, uint64(0), v.Gen)
	assert.Empty(t, v.Tasklets)
}

// badFiles makes the files the error cases need.
func badFiles(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{
		"missing":   filepath.Join(dir, "nosuch.db"),
		"garbage":   filepath.Join(dir, "garbage.db"),
		"empty":     filepath.Join(dir, "empty.db"),
		"directory": dir,
		"fifo":      filepath.Join(dir, "fifo.db"),
	}
	require.NoError(t, syscall.Mkfifo(files["fifo"], 0o600))
	require.NoError(t, os.WriteFile(files["garbage"], []byte(strings.Repeat("not a database ", 1000)), 0o600))
	require.NoError(t, os.WriteFile(files["empty"], nil, 0o600))
	return files
}

// lockedStore returns a checkpoint database this test process holds open.
func lockedStore(t *testing.T) string {
	path, _ := pipelineStore(t)
	db, err := store.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return path
}

func TestInspectErrors(t *testing.T) {
	files := badFiles(t)
	stored, _ := pipelineStore(t)
	locked := lockedStore(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing file", []string{files["missing"]}, 1, []string{"nosuch.db", "no such file"}},
		{"garbage file", []string{files["garbage"]}, 1, []string{"garbage.db", "not a checkpoint database"}},
		{"empty file", []string{files["empty"]}, 1, []string{"empty.db is empty"}},
		{"directory", []string{files["directory"]}, 1, []string{"is a directory"}},
		// Each was "is empty"; opening the FIFO blocked.
		{"fifo", []string{files["fifo"]}, 1, []string{"fifo.db is a named pipe (FIFO), not a regular file", "snapshot file or a checkpoint database"}},
		{"char device", []string{"/dev/urandom"}, 1, []string{"/dev/urandom is a character device, not a regular file"}},
		{"locked file", []string{locked, "--lock-timeout", "50ms"}, 1, []string{"locked by another process", locked}},
		{"unknown generation", []string{stored, "--gen", "999"}, 1, []string{"generation 999 is not in", "checkpoint ls"}},
		{"negative limit", []string{stored, "--limit", "-1"}, 2, []string{"--limit"}},
		{"no file", nil, 2, []string{"arg"}},
		{"empty path", []string{""}, 2, []string{"FILE|DIR argument is empty"}}, // was ": no such file"
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"inspect"}, tc.args...)...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Empty(t, out)
			assert.True(t, strings.HasPrefix(errOut, "stackless: "), errOut)
			for _, w := range tc.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
	st, err := os.Stat(files["empty"])
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "inspect must not turn an empty file into a database")
	assert.NoFileExists(t, files["missing"], "inspect must not create a missing file")
}

func TestInspectHonoursTheLockTimeout(t *testing.T) {
	locked := lockedStore(t)
	start := time.Now()
	code, _, errOut := run(t, "inspect", locked, "--lock-timeout", "50ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "within 50ms")
	assert.Less(t, time.Since(start), defaultLockWait, "--lock-timeout replaces the default wait")
}

// TestJSONSafe checks that loosely decoded values that encoding/json
// refuses (non-string map keys, NaN, infinities) still print.
func TestJSONSafe(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{map[any]any{int8(1): "a"}, `{"1":"a"}`},
		{math.NaN(), `"NaN"`},
		{[]any{float32(math.Inf(-1)), 2.5}, `["-Inf",2.5]`},
		{map[string]any{"p": pickle.Opaque{Type: "pt", Value: map[string]any{"X": 1}}}, `{"p":{"type":"pt","value":{"X":1}}}`},
		{"plain", `"plain"`},
	} {
		b, err := json.Marshal(jsonSafe(tc.in))
		require.NoError(t, err, "%#v", tc.in)
		assert.JSONEq(t, tc.want, string(b))
	}
}

// --tasklet shows one tasklet with every field in full; -o json the same as
// data.
func TestInspectOneTasklet(t *testing.T) {
	path, _ := pipelineStore(t)
	v := inspectJSONNumbers(t, path)
	var mixer taskletView
	for _, tv := range v.Tasklets {
		if tv.Kind == "testworld.mixer" {
			mixer = tv
			break
		}
	}
	require.NotZero(t, mixer.ID)
	id := fmt.Sprintf("t%d", mixer.ID)

	out := runOK(t, "inspect", path, "--tasklet", id)
	assert.True(t, strings.HasPrefix(out, fmt.Sprintf("tasklet %s of %s, generation %d\n", id, path, v.Gen)), out)
	assert.Regexp(t, `(?m)^kind\s+testworld\.mixer v1$`, out)
	assert.Regexp(t, `(?m)^state\s+`+mixer.State+`$`, out)
	assert.Regexp(t, fmt.Sprintf(`(?m)^steps\s+%d$`, mixer.Steps), out)
	assert.Contains(t, out, fmt.Sprintf("fields: %d\n", len(mixer.Fields)))
	for k, f := range mixer.Fields {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%s\s+%v$`, k, f), out)
	}

	var one taskletView
	dec := json.NewDecoder(strings.NewReader(runOK(t, "inspect", path, "--tasklet", fmt.Sprint(mixer.ID), "-o", "json")))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&one))
	assert.Contains(t, one.FramesNote, "kind testworld.mixer is not known to this binary", "no frames, and why")
	one.FramesNote = ""
	assert.Equal(t, mixer, one)

	code, _, errOut := run(t, "inspect", path, "--tasklet", "t999999")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "t999999 is not in generation")
	code, _, _ = run(t, "inspect", path, "--tasklet", "ch3")
	assert.Equal(t, exitUsage, code)
}

func TestFieldText(t *testing.T) {
	assert.Equal(t, `A=1 B="x" C=[1 2] D={E:true} F=0x0aff G=nil`, fieldsText(map[string]any{
		"B": "x", "A": int64(1), "C": []any{1, 2}, "D": map[string]any{"E": true}, "F": []byte{10, 255}, "G": nil}))
}

// TestInspectOneTaskletShowsWhereAFlowIsSuspended: a long-task worker is a
// straight-line tasklet (stackless gen); inspect --tasklet lists the frame
// it is suspended in, as the observer's tasklet page does, and says why a
// hand-written one has none.
func TestInspectOneTaskletShowsWhereAFlowIsSuspended(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lt.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	ck := store.NewCheckpointer(db, task.Registry())
	// The workers' fetches are held by the server until the test ends, so
	// they stay suspended in t.Do through the checkpoint. (A fetch from a
	// port nobody listens on failed at once, and now and then its error was
	// delivered before the checkpoint.)
	held := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-held }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(held) }) // first: Close waits for the held requests
	fx := scheduler.WithEffects(task.Effects(srv.URL, http.DefaultClient), scheduler.EffectConfig{})
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		task.Setup(s, task.Config{Docs: 10, Workers: 2, Seed: 1})
		return nil
	}, fx)
	require.NoError(t, err)
	_, err = s.RunBudget(t.Context(), 2, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	var worker, reducer tasklet.ID
	var want []tasklet.Frame
	for _, in := range s.Tasklets() {
		switch in.Kind {
		case "longtask.worker":
			if f := s.Behavior(in.ID).(tasklet.Framer).Where(); worker == 0 && len(f) > 0 {
				worker, want = in.ID, f
			}
		case task.KindReducer:
			reducer = in.ID
		}
	}
	require.NotZero(t, worker, "a worker stepped and is suspended")
	require.NotZero(t, reducer)
	require.NoError(t, ck.Checkpoint(s))
	require.NoError(t, db.Close())

	var one taskletView
	require.NoError(t, json.Unmarshal([]byte(runOK(t, "inspect", path, "--tasklet", worker.String(), "-o", "json")), &one))
	assert.Equal(t, want, one.Frames, "the frames the live tasklet reported")
	assert.Empty(t, one.FramesNote)

	out := runOK(t, "inspect", path, "--tasklet", worker.String())
	assert.Regexp(t, `(?m)^waits on\s+select\(do longtask\.fetch\)$`, out, "a t.Do waits on its effect, not on a default case")
	assert.Contains(t, out, "suspended at (outermost first):")
	assert.Regexp(t, fmt.Sprintf(`(?m)^0\s+%s\s+%s:%d\s+%s$`, regexp.QuoteMeta(want[0].Function), want[0].File, want[0].Line,
		regexp.QuoteMeta(want[0].Point)), out)

	out = runOK(t, "inspect", path, "--tasklet", reducer.String())
	assert.NotContains(t, out, "suspended at")
	assert.Contains(t, out, "frames: a hand-written behavior")
}

// A snapshot renamed over the path inspect reads (how snapshots are
// written) between its walks does not change what it prints: every walk
// reads the file inspect opened, so the JSON is the first world's, whole.
func TestInspectSnapshotReplacedBetweenWalksPrintsTheFirst(t *testing.T) {
	path, want := pipelineSnapshot(t)
	other := filepath.Join(filepath.Dir(path), "other.snapshot")
	s := scheduler.New()
	testworld.Entities(s, 7)
	require.NoError(t, store.SaveFile(other, testworld.Registry(), s))

	tg, err := openTarget(path, defaultLockWait, false)
	require.NoError(t, err)
	defer tg.close()
	v := &worldView{File: tg.path, Tasklets: []taskletView{}, Channels: []channelView{}, stream: true}
	require.NoError(t, tg.world(v, 0, false))
	require.NoError(t, os.Rename(other, path))

	var out strings.Builder
	require.NoError(t, writeWorldJSON(&out, v))
	var got worldView
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got), out.String())
	sameWorld(t, want, got)
	assert.Len(t, inspectJSON(t, path).Tasklets, 7, "the path holds the other world now")
}
