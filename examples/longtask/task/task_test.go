package task_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/longtask/task"
	"github.com/stackless-go/stackless/internal/testworld/foreign"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// model computes the statistics of the corpus directly, with none of the
// pipeline's code: split on non-letters, lower-case, count in one map.
func model(docs int, seed uint64) task.Result {
	counts := map[string]int{}
	var words int64
	for n := range docs {
		for _, w := range strings.FieldsFunc(task.Document(seed, n), func(r rune) bool { return !unicode.IsLetter(r) }) {
			counts[strings.ToLower(w)]++
			words++
		}
	}
	type wc struct {
		w string
		c int
	}
	var all []wc
	for w, c := range counts {
		all = append(all, wc{w, c})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].w < all[j].w })
	h := fnv.New64a()
	fmt.Fprintf(h, "docs=%d words=%d\n", docs, words)
	for _, x := range all {
		fmt.Fprintf(h, "%s:%d\n", x.w, x.c)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].c != all[j].c {
			return all[i].c > all[j].c
		}
		return all[i].w < all[j].w
	})
	r := task.Result{Docs: docs, Words: words, Distinct: len(all), Checksum: fmt.Sprintf("%016x", h.Sum64()), Seed: seed}
	for _, x := range all[:min(task.TopN, len(all))] {
		r.Top = append(r.Top, task.WordCount{Word: x.w, Count: x.c})
	}
	return r
}

func run(t *testing.T, o task.Options) *task.Report {
	t.Helper()
	rep, err := task.Run(context.Background(), o)
	require.NoError(t, err)
	return rep
}

func TestRunMatchesDirectCount(t *testing.T) {
	for _, tc := range []struct {
		docs, workers int
		seed          uint64
	}{{1, 1, 1}, {300, 4, 1}, {250, 3, 7}, {120, 16, 2}} {
		t.Run(fmt.Sprintf("docs=%d/workers=%d/seed=%d", tc.docs, tc.workers, tc.seed), func(t *testing.T) {
			rep := run(t, task.Options{Docs: tc.docs, Workers: tc.workers, Seed: tc.seed, Dir: t.TempDir()})
			want := model(tc.docs, tc.seed)
			want.Workers = tc.workers
			assert.Equal(t, want, rep.Result)
			assert.Equal(t, uint64(0), rep.Resumed)
			assert.False(t, rep.AlreadyDone)
			assert.Positive(t, rep.Gen, "the finished run is checkpointed")
		})
	}
}

// cancelOn is an Events writer that cancels a run at its n-th checkpoint.
type cancelOn struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	lines  bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.HasPrefix(p, []byte("checkpoint ")) {
		if c.n--; c.n == 0 {
			c.cancel()
		}
	}
	return c.lines.Write(p)
}

// TestInterruptedRunResumes cancels runs at several checkpoints and checks
// that each resumes where the last one stopped and that the end result is
// the unbroken run's.
func TestInterruptedRunResumes(t *testing.T) {
	const docs = 2000
	want := run(t, task.Options{Docs: docs, Dir: t.TempDir()}).Result

	dir := t.TempDir()
	var lastGen uint64
	lastDocs, stops := 0, 0
	for attempt := 0; attempt < 50; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		ev := &cancelOn{n: 1 + attempt%2, cancel: cancel}
		rep, err := task.Run(ctx, task.Options{Docs: docs, Dir: dir, Every: time.Hour, CheckpointSteps: 600, Events: ev})
		cancel()
		var resumeGen uint64
		var resumeDocs int
		_, scanErr := fmt.Sscanf(ev.lines.String(), "resume gen=%d docs=%d", &resumeGen, &resumeDocs)
		require.NoError(t, scanErr, "events: %s", ev.lines.String())
		assert.GreaterOrEqual(t, resumeGen, lastGen, "resumed an older generation than the last one saved")
		assert.GreaterOrEqual(t, resumeDocs, lastDocs, "progress went backwards")
		if err == nil {
			assert.Equal(t, want, rep.Result)
			assert.Equal(t, resumeGen, rep.Resumed)
			break
		}
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "run again to resume")
		stops++
		lastGen, lastDocs = resumeGen+1, resumeDocs // the interrupt checkpointed once more at least
	}
	assert.GreaterOrEqual(t, stops, 3, "the run should have been interrupted a few times")
	assert.Positive(t, lastDocs, "an interrupted run kept its progress")
}

func TestCheckpointsByTheClock(t *testing.T) {
	var ev bytes.Buffer
	// 2000 documents take tens of milliseconds even on a fast machine.
	run(t, task.Options{Docs: 2000, Dir: t.TempDir(), Every: time.Millisecond, Events: &ev})
	assert.Regexp(t, `(?m)^checkpoint gen=\d+ docs=1?\d{1,3}$`, ev.String(), "a checkpoint before the end (two may fall in one progress slice)")
	assert.Regexp(t, `(?m)^done gen=\d+ docs=2000$`, ev.String())
}

func TestFinishedRunIsNotRunAgain(t *testing.T) {
	dir := t.TempDir()
	first := run(t, task.Options{Docs: 80, Dir: dir})
	var log bytes.Buffer
	again := run(t, task.Options{Dir: dir, Log: &log})
	assert.True(t, again.AlreadyDone)
	assert.Equal(t, first.Result, again.Result)
	assert.Equal(t, first.Gen, again.Gen)
	assert.Contains(t, log.String(), "already complete")

	fresh := run(t, task.Options{Docs: 80, Dir: dir, Fresh: true})
	assert.False(t, fresh.AlreadyDone)
	assert.Equal(t, uint64(0), fresh.Resumed)
	assert.Equal(t, first.Result, fresh.Result)
}

// A fetch that failed is journaled like any outcome, and a later run gets
// it again from the journal: that run says the failure is an earlier run's
// and how to make the call again; it read as a live failure of a server
// the later run never named.
func TestAFailedFetchReplayedSaysItIsAnEarlierRunsFailure(t *testing.T) {
	dir := t.TempDir()
	dead := "http://127.0.0.1:1" // nothing listens on port 1
	_, live := task.Run(context.Background(), task.Options{Docs: 40, Dir: dir, Server: dead})
	require.Error(t, live)
	var rerr *scheduler.ReplayedError
	assert.False(t, errors.As(live, &rerr), "the first failure is live")
	assert.NotContains(t, live.Error(), "earlier run")

	_, again := task.Run(context.Background(), task.Options{Docs: 40, Dir: dir})
	require.ErrorAs(t, again, &rerr, "the journal answered the call")
	assert.Contains(t, again.Error(), "failed in an earlier run")
	assert.Contains(t, again.Error(), "--fresh", "says how to make the call again")

	fresh := run(t, task.Options{Docs: 40, Dir: dir, Fresh: true})
	want := model(40, task.DefaultSeed)
	want.Workers = task.DefaultWorkers
	assert.Equal(t, want, fresh.Result, "--fresh fetches again")
}

func TestStoredRunMustMatchTheOptions(t *testing.T) {
	dir := t.TempDir()
	run(t, task.Options{Docs: 40, Workers: 2, Seed: 3, Dir: dir})
	for _, o := range []task.Options{{Docs: 41}, {Workers: 3}, {Seed: 4}} {
		o.Dir = dir
		_, err := task.Run(context.Background(), o)
		require.Error(t, err, "%+v", o)
		assert.Contains(t, err.Error(), "docs=40 workers=2 seed=3")
		assert.Contains(t, err.Error(), "--fresh")
	}
	rep := run(t, task.Options{Docs: 40, Workers: 2, Seed: 3, Dir: dir})
	assert.True(t, rep.AlreadyDone, "the stored values themselves are fine")
}

func TestBadOptions(t *testing.T) {
	for _, o := range []task.Options{{Docs: -1}, {Workers: -2}, {Docs: 1, Workers: task.MaxWorkers + 1}, {Every: -1}} {
		o.Dir = t.TempDir()
		_, err := task.Run(context.Background(), o)
		assert.Error(t, err, "%+v", o)
	}
}

func TestNotALongTaskStore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, task.DBName), []byte("not a database, just text that is long enough"), 0o600))
	_, err := task.Run(context.Background(), task.Options{Docs: 10, Dir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), task.DBName)
}

// A database another program wrote (a game's save put where the task's
// goes) failed with "type not registered in this program; register it with
// pickle.RegisterValue", advice for a programmer, not a user.
func TestAnotherProgramsStore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, foreign.Write(filepath.Join(dir, task.DBName)))
	_, err := task.Run(context.Background(), task.Options{Docs: 10, Dir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, task.DBName)+" does not hold a long-task run (another program wrote it)")
	assert.Contains(t, err.Error(), "use another --data directory (or --fresh, which deletes it)")
}

// TestEmptyStoreIsNotAFreshStart: an empty (or damaged) longtask.db is
// refused with --fresh offered, never run over; --fresh moves it aside.
func TestEmptyStoreIsNotAFreshStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, task.DBName)
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := task.Run(context.Background(), task.Options{Docs: 10, Dir: dir})
	require.ErrorIs(t, err, store.ErrNotDatabase)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "--fresh")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "the file is left alone")

	var log bytes.Buffer
	rep := run(t, task.Options{Docs: 10, Dir: dir, Fresh: true, Log: &log})
	assert.Equal(t, 10, rep.Result.Docs)
	assert.Zero(t, rep.Resumed, "a fresh start")
	moved, err := filepath.Glob(path + ".bad-*")
	require.NoError(t, err)
	require.Len(t, moved, 1, "--fresh kept the old file")
	assert.Contains(t, log.String(), "moved aside to "+moved[0])
}

func TestDocument(t *testing.T) {
	assert.Equal(t, task.Document(1, 5), task.Document(1, 5), "a document depends only on seed and number")
	assert.NotEqual(t, task.Document(1, 5), task.Document(1, 6))
	assert.NotEqual(t, task.Document(1, 5), task.Document(2, 5))
	for n := range 50 {
		d := task.Document(9, n)
		words := strings.Fields(d)
		assert.GreaterOrEqual(t, len(words), 200)
		assert.Less(t, len(words), 800)
		assert.True(t, unicode.IsUpper(rune(d[0])), "starts a sentence: %.20q", d)
		assert.True(t, strings.HasSuffix(d, "."), "ends a sentence")
	}
}

func TestCount(t *testing.T) {
	tl := task.Count(task.Doc{N: 3, Text: "The cat sat. the DOG, a cat!"})
	assert.Equal(t, task.Tally{Doc: 3, Words: 7, Counts: map[string]int{"the": 2, "cat": 2, "sat": 1, "dog": 1, "a": 1}}, tl)
	assert.Equal(t, task.Tally{Doc: 0, Counts: map[string]int{}}, task.Count(task.Doc{Text: " .,"}))
}

func TestSummarize(t *testing.T) {
	r := task.Summarize(task.Config{Docs: 2, Workers: 1, Seed: 1}, 10,
		map[string]int{"b": 3, "a": 3, "c": 1, "d": 1, "e": 1, "f": 1})
	assert.Equal(t, []task.WordCount{{"a", 3}, {"b", 3}, {"c", 1}, {"d", 1}, {"e", 1}}, r.Top, "by count, then by word")
	assert.Equal(t, 6, r.Distinct)
	assert.Regexp(t, `^result: docs=2 words=10 distinct=6 top=\[a:3 b:3 c:1 d:1 e:1\] checksum=[0-9a-f]{16}$`, r.String())
	other := task.Summarize(task.Config{Docs: 2}, 10, map[string]int{"b": 3, "a": 3, "c": 1, "d": 1, "e": 1, "f": 2})
	assert.NotEqual(t, r.Checksum, other.Checksum, "the checksum covers counts outside the top")
}

func ExampleRun() {
	dir, _ := os.MkdirTemp("", "longtask")
	defer os.RemoveAll(dir)
	rep, err := task.Run(context.Background(), task.Options{Docs: 3, Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Result.Docs, rep.Result.Distinct > 0, rep.AlreadyDone)
	rep, _ = task.Run(context.Background(), task.Options{Dir: dir})
	fmt.Println(rep.Result.Docs, rep.AlreadyDone)
	// Output:
	// 3 true false
	// 3 true
}

func ExampleCount() {
	tl := task.Count(task.Doc{N: 7, Text: "The end. THE END!"})
	fmt.Println(tl.Doc, tl.Words, tl.Counts)
	// Output: 7 4 map[end:2 the:2]
}
