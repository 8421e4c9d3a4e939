package pickle_test

// The run_pickled suite (after Stackless's test_pickle run_pickled): for many
// worlds, run k steps, snapshot, restore in a fresh scheduler, run to the
// end and compare with the run that was never interrupted, for several k and
// three ways of storing the snapshot. The worlds are the example behaviors
// and random programs of tasklets and channels interpreted by Prog
// (runpickled_prog_test.go).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// recorder keeps what a run shows outside its world: reported failures and
// every channel operation, in order. A restored copy continues the record
// of the run it was snapshotted from.
type recorder struct {
	Failures []string
	Events   []string
}

func (rc *recorder) options(reg *pickle.Registry) []scheduler.Option {
	return []scheduler.Option{
		scheduler.WithKindNames(reg.KindName),
		scheduler.WithErrorHandler(func(err error) { rc.Failures = append(rc.Failures, err.Error()) }),
		scheduler.WithChannelHook(func(e scheduler.ChannelEvent) { rc.Events = append(rc.Events, fmt.Sprint(e)) }),
	}
}

func (rc *recorder) clone() *recorder {
	return &recorder{Failures: slices.Clone(rc.Failures), Events: slices.Clone(rc.Events)}
}

// outcome is everything observable about a finished run.
type outcome struct {
	Err      string // Run's error: "" or a deadlock naming the blocked tasklets
	Failures []string
	Events   []string
	Victims  []tasklet.ID // tasklets the watchdog interrupted, in order
	World    *scheduler.World
}

func outcomeOf(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler, rc *recorder, err error, victims []tasklet.ID) outcome {
	t.Helper()
	// The final world goes through the format too, so that values and errors
	// compare the same way whichever run they come from.
	blob, e := reg.DumpWorld(s.World())
	require.NoError(t, e)
	w, e := reg.LoadWorld(blob)
	require.NoError(t, e)
	o := outcome{Failures: rc.Failures, Events: rc.Events, Victims: victims, World: w}
	if err != nil {
		require.ErrorIs(t, err, scheduler.ErrDeadlock, "the only error Run may return with an error handler set")
		o.Err = err.Error()
	}
	return o
}

func sameOutcome(t *testing.T, want, got outcome, what string) {
	t.Helper()
	assert.Equal(t, want.Err, got.Err, "%s: Run's result", what)
	assert.Equal(t, want.Failures, got.Failures, "%s: failures reported", what)
	if assert.Equal(t, len(want.Events), len(got.Events), "%s: number of channel operations", what) {
		assert.Equal(t, want.Events, got.Events, "%s: channel operations", what)
	}
	assert.Equal(t, want.Victims, got.Victims, "%s: watchdog victims", what)
	assert.Equal(t, want.World, got.World, "%s: final world", what)
}

// snapshotter stores a scheduler's world one way and reads it back.
type snapshotter struct {
	name string
	load func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World
}

var snapshotters = []snapshotter{
	{"DumpWorld", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		b, err := reg.DumpWorld(s.World())
		require.NoError(t, err)
		w, err := reg.LoadWorld(b)
		require.NoError(t, err)
		return w
	}},
	{"EncodeWorld", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		meta, recs, err := reg.EncodeWorld(s.World())
		require.NoError(t, err)
		slices.Reverse(recs) // DecodeWorld takes records in any order
		w, err := reg.DecodeWorld(meta, recs)
		require.NoError(t, err)
		return w
	}},
	{"store.SaveFile", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		path := filepath.Join(t.TempDir(), "world.snap")
		require.NoError(t, store.SaveFile(path, reg, s))
		w, err := store.LoadFile(path, reg)
		require.NoError(t, err)
		return w
	}},
}

// restore restores a snapshot of s with a copy of its recorder.
func restore(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler, rc *recorder, via snapshotter) (*scheduler.Scheduler, *recorder) {
	t.Helper()
	w := via.load(t, reg, s)
	rc2 := rc.clone()
	s2, err := scheduler.Restore(w, rc2.options(reg)...)
	require.NoError(t, err)
	return s2, rc2
}

// sliceRun is the autoschedule loop of the Stackless watchdog docs: run
// with a timeslice of n steps, put the interrupted tasklet back at the end
// of the run queue, repeat until nothing was interrupted.
type sliceRun struct {
	s       *scheduler.Scheduler
	n       int
	victims []tasklet.ID
	pending tasklet.ID // the last victim, still paused
	err     error
	done    bool
}

func (r *sliceRun) next(t *testing.T) {
	if r.pending != 0 {
		require.NoError(t, r.s.Insert(r.pending))
		r.pending = 0
	}
	id, err := r.s.RunBudget(context.Background(), r.n, scheduler.Timeslice)
	if err != nil || id == 0 {
		r.err, r.done = err, true
		return
	}
	r.victims = append(r.victims, id)
	r.pending = id
}

// features counts what the snapshots held and how the runs ended, so the
// suite can check that its worlds cover what it claims to cover.
type features struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *features) add(name string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[name] += n
}

func (f *features) observe(w *scheduler.World) {
	count := func(name string, ok bool) {
		if ok {
			f.add(name, 1)
		}
	}
	for _, ts := range w.Tasklets {
		count("sleeping tasklet", ts.State == tasklet.Sleeping)
		count("paused tasklet", ts.State == tasklet.Paused)
		count("select waiter", ts.State == tasklet.Blocked && !ts.Plain)
		count("atomic or block-trap tasklet", ts.Flags != 0)
		count("delivered error not yet seen", ts.Err != nil)
	}
	for _, cs := range w.Channels {
		count("buffered value", len(cs.Buffer) > 0)
		count("closed channel", cs.Closed)
		count("blocked receiver", len(cs.Receivers) > 0)
		for _, sw := range cs.Senders {
			count("blocked sender holding a value", sw.Tasklet != 0 && sw.Value != nil)
			count("posted value without a tasklet", sw.Tasklet == 0)
		}
		for _, v := range append(slices.Clone(cs.Buffer), waiterValues(cs.Senders)...) {
			_, ok := v.(channel.Bomb)
			count("error in a channel", ok)
		}
	}
	for _, tm := range w.Timers {
		count("select timeout", tm.Case >= 0)
	}
}

func waiterValues(ws []scheduler.WaiterState) []any {
	out := make([]any, len(ws))
	for i, w := range ws {
		out[i] = w.Value
	}
	return out
}

func (f *features) observeEnd(o outcome) {
	switch {
	case o.Err != "":
		f.add("deadlock", 1)
	default:
		f.add("clean end", 1)
	}
	if len(o.Failures) > 0 {
		f.add("failure reported", 1)
	}
}

func (f *features) check(t *testing.T) {
	for _, name := range []string{"sleeping tasklet", "paused tasklet", "select waiter", "atomic or block-trap tasklet",
		"delivered error not yet seen", "buffered value", "closed channel", "blocked receiver",
		"blocked sender holding a value", "posted value without a tasklet", "error in a channel", "select timeout",
		"deadlock", "clean end", "failure reported", "watchdog victim", "snapshot with a paused victim"} {
		assert.Positive(t, f.n[name], "no world of the suite had a %s", name)
	}
	keys := make([]string, 0, len(f.n))
	for k := range f.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-32s %d", k, f.n[k])
	}
}

// checkRunPickled runs the whole battery on one world.
func checkRunPickled(t *testing.T, reg *pickle.Registry, build builder, rng *rand.Rand, feat *features) {
	ctx := context.Background()

	rc := new(recorder)
	s := build(rc.options(reg)...)
	want := outcomeOf(t, reg, s, rc, s.Run(ctx), nil)
	feat.observeEnd(want)
	total := int(s.Steps())

	// Soft budgets stop at a switch and reorder nothing, so a snapshot taken
	// there and run on must give exactly the uninterrupted run.
	ks := []int{0, 1, 2, 3 + rng.IntN(8), total / 2, total - 1, total + 3}
	slices.Sort(ks)
	ks = slices.Compact(ks)
	fileK := rng.IntN(len(ks)) // the file snapshot (two fsyncs) for one k only
	for i, k := range ks {
		if k < 0 {
			continue
		}
		t.Run(fmt.Sprint("soft k=", k), func(t *testing.T) {
			rc := new(recorder)
			s := build(rc.options(reg)...)
			victim, err := s.RunBudget(ctx, k, scheduler.Total|scheduler.Soft)
			require.Zero(t, victim, "a soft budget interrupts no one")
			if err != nil {
				assert.Equal(t, want.Err, err.Error(), "a deadlock before the budget ran out is the final one")
			}
			feat.observe(s.World())
			for j, via := range snapshotters {
				if j == 2 && i != fileK {
					continue
				}
				s2, rc2 := restore(t, reg, s, rc, via)
				sameOutcome(t, want, outcomeOf(t, reg, s2, rc2, s2.Run(ctx), nil), "restored from "+via.name)
			}
			// A snapshot is a copy: the original goes on as if nothing happened.
			sameOutcome(t, want, outcomeOf(t, reg, s, rc, s.Run(ctx), nil), "the original")
		})
	}

	// Hard interrupts: reference and copy both run the autoschedule loop; the
	// copy is snapshotted between two iterations, right after an interrupt,
	// with its victim paused, and the victim is inserted into the restored
	// scheduler.
	n := 1 + rng.IntN(3)
	rc = new(recorder)
	ref := &sliceRun{s: build(rc.options(reg)...), n: n}
	for !ref.done {
		ref.next(t)
	}
	wantSliced := outcomeOf(t, reg, ref.s, rc, ref.err, ref.victims)
	feat.add("watchdog victim", len(ref.victims))
	js := []int{0, 1, len(ref.victims) / 2, len(ref.victims)}
	slices.Sort(js)
	for _, j := range slices.Compact(js) {
		if j > len(ref.victims) {
			continue
		}
		t.Run(fmt.Sprintf("timeslice %d snapshot after %d interrupts", n, j), func(t *testing.T) {
			rc := new(recorder)
			run := &sliceRun{s: build(rc.options(reg)...), n: n}
			for !run.done && len(run.victims) < j {
				run.next(t)
			}
			w := run.s.World()
			feat.observe(w)
			if run.pending != 0 {
				ts, err := run.s.TaskletState(run.pending)
				require.NoError(t, err)
				require.Equal(t, tasklet.Paused, ts.State, "the victim waits, paused, for Insert")
				feat.add("snapshot with a paused victim", 1)
			}
			run.s, rc = restore(t, reg, run.s, rc, snapshotters[j%2])
			for !run.done {
				run.next(t)
			}
			sameOutcome(t, wantSliced, outcomeOf(t, reg, run.s, rc, run.err, run.victims), "restored between interrupts")
		})
	}

	// A hard total budget: the victim is inserted after the snapshot too.
	for _, k := range []int{1 + rng.IntN(4), total / 3} {
		t.Run(fmt.Sprint("hard total k=", k), func(t *testing.T) {
			runHard := func(snapshot bool) outcome {
				rc := new(recorder)
				s := build(rc.options(reg)...)
				victim, err := s.RunBudget(ctx, k, scheduler.Total)
				if snapshot {
					s, rc = restore(t, reg, s, rc, snapshotters[0])
				}
				var victims []tasklet.ID
				if victim != 0 {
					victims = append(victims, victim)
					require.NoError(t, s.Insert(victim))
				}
				if err == nil {
					err = s.Run(ctx)
				}
				return outcomeOf(t, reg, s, rc, err, victims)
			}
			sameOutcome(t, runHard(false), runHard(true), "restored after a hard total budget")
		})
	}
}

func TestRunPickledRandomPrograms(t *testing.T) {
	reg := progRegistry(t)
	seeds := 150
	if testing.Short() {
		seeds = 20
	}
	feat := new(features)
	t.Run("seeds", func(t *testing.T) {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
				t.Parallel()
				build := func(opts ...scheduler.Option) *scheduler.Scheduler { return buildRandom(seed, opts...) }
				checkRunPickled(t, reg, build, rand.New(rand.NewPCG(seed, 1)), feat)
			})
		}
	})
	feat.check(t)
}

func TestRunPickledExamples(t *testing.T) {
	reg := progRegistry(t)
	names := make([]string, 0, len(exampleWorlds))
	for name := range exampleWorlds {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			checkRunPickled(t, reg, exampleWorlds[name], rand.New(rand.NewPCG(uint64(i), 2)), new(features))
		})
	}
}
