package core_test

import (
	"runtime"
	"runtime/debug"
	"testing"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

type (
	block = core.Block[tasklet.Behavior, tasklet.Host, tasklet.Case]
	pool  = core.Pool[tasklet.Behavior, tasklet.Host, tasklet.Case]
)

// noGC keeps the collector from emptying a sync.Pool during a test.
func noGC(t *testing.T) {
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// spent makes n records on a, steps, waits and delivers to each, and takes
// them all back, as a world whose n tasklets all ended; it returns them.
func spent(t *testing.T, a *block, h *core.HostRef[tasklet.Host], n int) map[*rec]bool {
	recs := make([]*rec, n)
	for i := range recs {
		recs[i] = a.Make(uint64(i+1), stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() }), h)
		recs[i].BeginStep()
		recs[i].SetChosen(3)
		recs[i].Deliver("v", nil)
		recs[i].SetFlags(core.FlagAtomic)
		recs[i].NextWait()
	}
	seen := make(map[*rec]bool, n)
	for _, r := range recs {
		require.True(t, a.Reuse(r))
		seen[r] = true
	}
	return seen
}

// A block past its own spare records hands them to its pool, and another
// block on the pool (another world, on another host) takes them back
// before allocating: each is a fresh record of its new host.
func TestPoolCarriesRecordsToAnotherBlock(t *testing.T) {
	noGC(t)
	var p pool
	var a, b block
	a.SetPool(&p)
	b.SetPool(&p)
	ha := &core.HostRef[tasklet.Host]{H: fakeHost{name: "a"}}
	hb := &core.HostRef[tasklet.Host]{H: fakeHost{name: "b"}}
	old := spent(t, &a, ha, 5000) // about four chunks beyond a's own spare
	reused := 0
	for i := range 5000 {
		r := b.Make(uint64(100_000+i), stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() }), hb)
		if !old[r] {
			continue
		}
		reused++
		assert.Equal(t, uint64(100_000+i), r.ID())
		assert.Equal(t, uint8(tasklet.New), r.State())
		assert.Zero(t, r.Steps())
		assert.Equal(t, -1, r.Chosen())
		assert.Nil(t, r.Value())
		assert.Zero(t, r.Flags())
		assert.Zero(t, r.WaitSeq())
		assert.Nil(t, r.SelectCases())
		assert.Equal(t, hb.H, r.Host(), "a pooled record serves the block that took it")
	}
	// The race detector's sync.Pool drops a quarter of what is put in it at
	// random; four chunks went in.
	assert.GreaterOrEqual(t, reused, 1024, "records of a's ended tasklets that b handed out again")
}

// Without a pool a block keeps its own spare records, up to its bound, and
// lets the rest go.
func TestBlockWithoutPoolKeepsItsBound(t *testing.T) {
	var a block
	h := &core.HostRef[tasklet.Host]{}
	recs := make([]*rec, 10*1024+500) // ten chunks for the pool
	for i := range recs {
		recs[i] = a.Make(uint64(i+1), nil, h)
	}
	kept := 0
	for _, r := range recs {
		if a.Reuse(r) {
			kept++
		}
	}
	assert.Equal(t, 1024, kept, "records a block without a pool keeps")
}

// A record taken back points at nothing: a pool that outlives its world
// keeps neither the world (through the record's host) nor the tasklet's
// behavior or last value alive.
func TestPooledRecordsKeepNothingAlive(t *testing.T) {
	var p pool
	a := new(block) // the world's own, which goes with it
	a.SetPool(&p)
	type world struct {
		tasklet.Host
		name [1024]byte
	}
	w := &world{}
	h := &core.HostRef[tasklet.Host]{H: w}
	type state struct {
		stepFn
		pad [64]byte
	}
	st := &state{stepFn: func(t *tasklet.T) tasklet.Op { return t.Exit() }}
	val := &[64]byte{}
	recs := make([]*rec, 10*1024+500) // ten chunks for the pool
	for i := range recs {
		recs[i] = a.Make(uint64(i+1), st, h)
		recs[i].SetSelectOne(tasklet.Case{Dir: tasklet.DirSend, Chan: 1, Value: val}) // its own ext
		recs[i].Deliver(val, nil)
	}
	for _, r := range recs {
		require.True(t, a.Reuse(r))
	}
	ww, ws, wv := weak.Make(w), weak.Make(st), weak.Make(val)
	pooled := map[*rec]bool{} // a record of each chunk: records keep nothing alive
	for i := 0; i < 10*1024; i += 1024 {
		pooled[recs[i]] = true
	}
	w, h, st, val, recs, a = nil, nil, nil, nil, nil, nil
	runtime.GC() // the pool's chunks survive one collection (as victims)
	assert.True(t, ww.Value() == nil, "the world of the pooled records was kept alive")
	assert.True(t, ws.Value() == nil, "the behavior of a pooled record was kept alive")
	assert.True(t, wv.Value() == nil, "the last value or select case of a pooled record was kept alive")
	// The pool still held the records then (else nothing was tested): a
	// block on it hands them out. (The race detector's sync.Pool drops a
	// quarter of the chunks; one of ten is enough.)
	var b block
	b.SetPool(&p)
	found := false
	for i := range 10 * 1024 {
		found = found || pooled[b.Make(uint64(i+1), nil, &core.HostRef[tasklet.Host]{})]
	}
	assert.True(t, found, "no pooled record came back: the collection emptied the pool")
}
