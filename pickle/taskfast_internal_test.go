package pickle

// The tasklet and channel fast paths (taskfast.go) must write exactly the
// bytes msgpack writes and read exactly what the msgpack path reads, or
// leave the record to it: checked on a table of shapes, on every cut of a
// record, by a differential fuzz target, and their point (no allocation
// per tasklet of a world) by an allocation count.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// fastGuard is a kind with a plan: scalars, a string, slices, a nested struct.
type fastGuard struct {
	HP    int
	Name  string
	Eyes  channel.ID
	Route []int
	Tags  []string
	Blob  []byte
	Pos   struct{ X, Y float32 }
	Quiet bool `msgpack:",omitempty"`
}

func (g *fastGuard) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// fastAny has no plan (an interface field): msgpack does its behavior.
type fastAny struct {
	Any any `stackless:",loose"` // generic values, as a hand-written kind may hold
}

func (a *fastAny) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// fastWide decodes 512 bytes per one-byte nil item.
type fastWide struct{ Items []struct{ A [64]int64 } }

func (w *fastWide) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

var errFastSentinel = errors.New("fast sentinel")

func fastRegistry(t testing.TB) *Registry {
	r := NewRegistry()
	require.NoError(t, r.Register("fast.guard", 3, &fastGuard{}))
	require.NoError(t, r.Register("fast.any", 1, &fastAny{}))
	require.NoError(t, r.Register("fast.wide", 1, &fastWide{}))
	r.RegisterError("fast.sentinel", errFastSentinel)
	return r
}

func guard() *fastGuard {
	g := &fastGuard{HP: -7, Name: "north-gate", Eyes: 1<<48 | 42, Route: []int{3, 1, 4, 1 << 40},
		Tags: []string{"a", ""}, Blob: []byte{0, 1}}
	g.Pos.X, g.Pos.Y = 1.5, -2
	return g
}

// taskShapes are tasklet states of every shape the encoder writes; fast
// says whether the fast paths must take them.
var taskShapes = []struct {
	name string
	fast bool
	ts   func() scheduler.TaskletState
}{
	{"blocked on a plain receive", true, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 1<<48 | 1234, Behavior: guard(), State: tasklet.Blocked, Steps: 57, Wait: 12,
			Chosen: -1, Plain: true, Cases: []tasklet.Case{tasklet.RecvCase(42)}}
	}},
	{"select with a timeout", true, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 2, Behavior: &fastGuard{Quiet: true}, State: tasklet.Blocked, Flags: 255, Steps: 1 << 50,
			Wait: 1<<32 - 1, Chosen: 2, Cases: []tasklet.Case{tasklet.RecvCase(1), {Dir: tasklet.DirSend, Chan: 1 << 60},
				tasklet.TimeoutCase(90 * time.Second), tasklet.TimeoutCase(-1)}}
	}},
	{"runnable, zero behavior", true, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 3, Behavior: &fastGuard{}, State: tasklet.Runnable}
	}},
	{"empty case list", true, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 4, Behavior: &fastGuard{}, State: tasklet.Sleeping, Cases: []tasklet.Case{}}
	}},
	{"pending value", false, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 5, Behavior: guard(), State: tasklet.Runnable, Value: 42}
	}},
	{"pending error", false, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 6, Behavior: guard(), State: tasklet.Runnable, Err: errFastSentinel}
	}},
	{"send case with a value", false, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 7, Behavior: guard(), State: tasklet.Blocked, Plain: true, Chosen: -1,
			Cases: []tasklet.Case{tasklet.SendCase(9, "hello")}}
	}},
	{"effect case", false, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 8, Behavior: guard(), State: tasklet.Blocked,
			Cases: []tasklet.Case{tasklet.DoCase("fetch", nil)}}
	}},
	{"kind without a plan", false, func() scheduler.TaskletState {
		return scheduler.TaskletState{ID: 9, Behavior: &fastAny{Any: "x"}, State: tasklet.Runnable}
	}},
}

func TestTaskletFastPathWritesMsgpacksBytes(t *testing.T) {
	r := fastRegistry(t)
	for _, tc := range taskShapes {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.ts()
			k, err := r.KindOf(ts.Behavior)
			require.NoError(t, err)
			want, err := r.appendTaskletMsgpack([]byte("prefix"), &ts, k)
			require.NoError(t, err)
			fast, ok := appendTaskletFast([]byte("prefix"), &ts, k)
			assert.Equal(t, tc.fast, ok, "fast path taken")
			if ok {
				assert.Equal(t, want, fast, "fast path bytes")
			}
			got, err := r.AppendTasklet([]byte("prefix"), &ts)
			require.NoError(t, err)
			assert.Equal(t, want, got, "AppendTasklet")
		})
	}
}

func TestTaskletFastPathReadsWhatTheDecoderReads(t *testing.T) {
	r := fastRegistry(t)
	for _, tc := range taskShapes {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.ts()
			b, err := r.DumpTasklet(&ts)
			require.NoError(t, err)
			var fast TaskletRecord
			assert.Equal(t, tc.fast, r.loadTaskletFast(b, &fast, new(slabs)), "fast path taken")
			var want TaskletRecord
			require.NoError(t, r.loadTaskletMsgpack(b, &want, false))
			got, err := r.LoadTasklet(b)
			require.NoError(t, err)
			assert.Equal(t, want, *got, "LoadTasklet")
			if tc.fast {
				assert.Equal(t, want, fast, "fast path")
			}
			if len(ts.Cases) == 0 {
				ts.Cases = nil // an empty list reads back as none
			}
			assert.Equal(t, ts, got.TaskletState, "round trip")
		})
	}
}

// A damaged record of the fast shape gets the msgpack path's own error.
func TestTaskletFastPathDamageGetsTheDecodersError(t *testing.T) {
	r := fastRegistry(t)
	ts := taskShapes[1].ts()
	b, err := r.DumpTasklet(&ts)
	require.NoError(t, err)
	for cut := 0; cut < len(b); cut++ {
		want := r.loadTaskletMsgpack(b[:cut], new(TaskletRecord), false)
		_, got := r.LoadTasklet(b[:cut])
		require.Error(t, got, "cut at %d", cut)
		assert.Equal(t, want.Error(), got.Error(), "cut at %d", cut)
	}
	_, err = r.LoadTasklet(append(b[:len(b):len(b)], 0xc0))
	assert.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMalformed), "trailing byte: %v", err)
}

// A behavior that would allocate far more than its bytes is refused with
// ErrTooLarge; the fast path stops at the same bound instead of allocating.
func TestTaskletFastPathBoundsAllocation(t *testing.T) {
	r := fastRegistry(t)
	const items = 4000 // 4000 one-byte nils, 512 bytes each: 2 MB from 4 KB
	w := &fastWide{Items: make([]struct{ A [64]int64 }, 1)}
	ts := scheduler.TaskletState{ID: 1, Behavior: w, State: tasklet.Runnable}
	b, err := r.DumpTasklet(&ts)
	require.NoError(t, err)
	// Replace the one item (a map of one array) by 4000 nils.
	k, err := r.KindOf(w)
	require.NoError(t, err)
	head, ok := appendTaskletFast(nil, &scheduler.TaskletState{ID: 1, Behavior: &fastWide{}, State: tasklet.Runnable}, k)
	require.True(t, ok)
	require.Greater(t, len(b), len(head))
	rec := append(head[:len(head)-1:len(head)-1], 0xdc, items>>8, items&0xff) // Items: array16 of nils
	for range items {
		rec = append(rec, 0xc0)
	}
	assert.False(t, r.loadTaskletFast(rec, new(TaskletRecord), new(slabs)), "fast path must stop at the bound")
	_, err = r.LoadTasklet(rec)
	assert.ErrorIs(t, err, ErrTooLarge)
}

// Decoding a world of blocked tasklets allocates per world, not per tasklet.
func TestDecodeWorldTaskletsDoNotAllocateEach(t *testing.T) {
	const n = 2000
	r := fastRegistry(t)
	w := &scheduler.World{NextTasklet: n + 1}
	for i := range n {
		w.Tasklets = append(w.Tasklets, scheduler.TaskletState{ID: tasklet.ID(i + 1), Behavior: &fastGuard{HP: i},
			State: tasklet.Blocked, Chosen: -1, Plain: true, Cases: []tasklet.Case{tasklet.RecvCase(tasklet.ChanID(i + 1))}})
	}
	meta, recs, err := r.EncodeWorld(w)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(5, func() {
		got, err := r.DecodeWorld(meta, recs)
		if err != nil || len(got.Tasklets) != n {
			panic(fmt.Sprintf("decoded %v tasklets: %v", got, err))
		}
	})
	assert.LessOrEqual(t, allocs/n, 0.1, "allocations per tasklet (%v for the world)", allocs)
	got, err := r.DecodeWorld(meta, recs)
	require.NoError(t, err)
	assert.Equal(t, w.Tasklets, got.Tasklets, "slabs change nothing")
}

// FuzzLoadTaskletFast: whatever the fast path takes, Scan and the msgpack
// path take too, with the same state (compared as re-encoded bytes, so a
// NaN equals itself).
func FuzzLoadTaskletFast(f *testing.F) {
	r := fastRegistry(f)
	for _, tc := range taskShapes {
		ts := tc.ts()
		b, err := r.DumpTasklet(&ts)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast TaskletRecord
		if !r.loadTaskletFast(b, &fast, new(slabs)) {
			return
		}
		require.NoError(t, ScanAll(b, Limits{}), "Scan refuses what the fast path took")
		var want TaskletRecord
		require.NoError(t, r.loadTaskletMsgpack(b, &want, false), "the decoder refuses what the fast path took")
		assert.Equal(t, want.Kind, fast.Kind)
		wb, err := r.DumpTasklet(&want.TaskletState)
		require.NoError(t, err)
		fb, err := r.DumpTasklet(&fast.TaskletState)
		require.NoError(t, err)
		assert.Equal(t, wb, fb, "the fast path read another state")
	})
}

// A world decoded on several goroutines is the world decoded on one, and a
// kind problem anywhere gets DecodeWorld's error.
func TestDecodeWorldParallelMatchesDecodeWorld(t *testing.T) {
	const n = 3 * parallelMin
	r := fastRegistry(t)
	w := &scheduler.World{NextTasklet: n + 1, NextChannel: n + 1, RunQueue: []tasklet.ID{}}
	for i := range n {
		ts := taskShapes[i%len(taskShapes)].ts()
		ts.ID = tasklet.ID(i + 1)
		if ts.State == tasklet.Runnable {
			w.RunQueue = append(w.RunQueue, ts.ID)
		}
		w.Tasklets = append(w.Tasklets, ts)
		cs := chanShapes[i%len(chanShapes)].cs
		cs.ID = channel.ID(i + 1)
		w.Channels = append(w.Channels, cs)
	}
	meta, recs, err := r.EncodeWorld(w)
	require.NoError(t, err)
	want, err := r.DecodeWorld(meta, recs)
	require.NoError(t, err)
	assert.Len(t, want.Tasklets, n)
	assert.Len(t, want.Channels, n)
	for _, workers := range []int{2, 3, 8} {
		got, err := r.DecodeWorldParallel(meta, recs, workers)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%d workers", workers)
	}

	// An unknown kind late in the world: the error names it as DecodeWorld does.
	bad := NewRegistry()
	require.NoError(t, bad.Register("fast.guard", 3, &fastGuard{}))
	require.NoError(t, bad.Register("fast.wide", 1, &fastWide{}))
	_, want1 := bad.DecodeWorld(meta, recs)
	require.ErrorIs(t, want1, ErrUnknownKind)
	_, got1 := bad.DecodeWorldParallel(meta, recs, 2)
	require.Error(t, got1)
	assert.Equal(t, want1.Error(), got1.Error())
}

// An upgrade function's panic on a decoding goroutine is the decode's error
// (ErrPanic), as in DecodeWorld: it must not kill the process. (Any other
// panic there still reaches the caller of DecodeWorldParallel.)
func TestDecodeWorldParallelReportsAPanickingUpgrade(t *testing.T) {
	const n = 2 * parallelMin
	old := NewRegistry()
	require.NoError(t, old.Register("fast.guard", 1, &fastGuard{}))
	w := &scheduler.World{NextTasklet: n + 1}
	for i := range n {
		w.Tasklets = append(w.Tasklets, scheduler.TaskletState{ID: tasklet.ID(i + 1), Behavior: &fastGuard{}, State: tasklet.Sleeping})
	}
	meta, recs, err := old.EncodeWorld(w)
	require.NoError(t, err)
	cur := NewRegistry()
	require.NoError(t, cur.Register("fast.guard", 2, &fastGuard{}, Upgrade(1, func(g *fastGuard) (tasklet.Behavior, error) {
		if g != nil {
			panic("upgrade bug")
		}
		return g, nil
	})))
	recovered := func() (p any) {
		defer func() { p = recover() }()
		_, err = cur.DecodeWorldParallel(meta, recs, 2)
		return nil
	}()
	assert.Nil(t, recovered, "the upgrade's panic stops in the decoder, on whichever goroutine")
	require.ErrorIs(t, err, ErrPanic)
	assert.ErrorIs(t, err, ErrKindVersion)
	assert.ErrorContains(t, err, "upgrade bug")
}
