package scheduler

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

// stepFunc is a behavior made of a closure.
type stepFunc func(t *tasklet.T) tasklet.Op

func (f stepFunc) Step(t *tasklet.T) tasklet.Op { return f(t) }

func exitNow(t *tasklet.T) tasklet.Op { return t.Exit() }

// The record of a tasklet that ended is the record of the next one spawned,
// so tasklets that come and go allocate no records and stay in the cache.
func TestEndedTaskletsRecordIsReused(t *testing.T) {
	s := New()
	first := s.Spawn(stepFunc(exitNow))
	old := s.tasks.get(uint64(first))
	require.NotNil(t, old)
	require.NoError(t, s.Run(context.Background()))

	second := s.Spawn(stepFunc(exitNow))
	r := s.tasks.get(uint64(second))
	assert.Same(t, old, r, "the ended tasklet's record is handed out again")
	assert.Equal(t, second, r.ID())
	assert.Equal(t, tasklet.Runnable, r.State())
	assert.Zero(t, r.Steps(), "a reused record starts at step 0")
	assert.Equal(t, -1, r.Chosen())
	v, err := r.Delivered()
	assert.Nil(t, v)
	assert.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
}

// chain spawns its next link and ends, N times: one tasklet alive at a time.
type chain struct{ N int }

func (c *chain) Step(t *tasklet.T) tasklet.Op {
	if c.N > 0 {
		c.N--
		t.Spawn(c) // the same behavior: only records can allocate
	}
	return t.Exit()
}

// Spawning and ending tasklets one after another allocates no records once
// the first ones are back.
func TestSpawnExitChurnAllocatesNoRecords(t *testing.T) {
	s := New()
	ctx := context.Background()
	s.Spawn(&chain{N: 10})
	require.NoError(t, s.Run(ctx))
	c := &chain{N: 5000} // about a hundred blocks' worth of records
	s.Spawn(c)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := s.Run(ctx)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Zero(t, c.N, "the whole chain ran")
	assert.Less(t, after.Mallocs-before.Mallocs, uint64(20), "5,000 spawns and exits took %d allocations", after.Mallocs-before.Mallocs)
}

// The generation check: a select leaves a stale entry in the queue of the
// case that did not fire, ahead of a receiver that still waits there. When
// the selecting tasklet ends and its record serves a new tasklet, that entry
// must not match the new tasklet's wait sequence: a value sent there goes to
// the receiver behind it, not to the new tasklet, which waits on nothing.
func TestReusedRecordIgnoresStaleWaits(t *testing.T) {
	s := New()
	ctx := context.Background()
	a, b := s.NewChannel(0), s.NewChannel(0)
	old := s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		switch t.Steps() {
		case 2:
			return t.Yield() // so that it ends last, its record the first reused
		case 3:
			return t.Exit()
		}
		return t.Select(tasklet.Case{Dir: tasklet.DirRecv, Chan: a}, tasklet.Case{Dir: tasklet.DirRecv, Chan: b})
	}))
	oldRec := s.tasks.get(uint64(old))
	var second any
	s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op { // waits on b behind the select
		if t.Steps() == 1 {
			return t.Recv(b)
		}
		second = t.Value()
		return t.Exit()
	}))
	require.Error(t, s.Run(ctx), "both wait")
	s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Send(a, "to the select")
		}
		return t.Exit()
	}))
	require.Error(t, s.Run(ctx), "the receiver on b still waits")
	require.Equal(t, 1, s.Len(), "the select and the sender on a ended")

	// Paused, the new tasklet waits on nothing: its wait sequence is the
	// one its record had, unless the reuse moved it on.
	var got any
	fresh := s.SpawnPaused(stepFunc(func(t *tasklet.T) tasklet.Op {
		got = t.Value()
		return t.Exit()
	}))
	require.Same(t, oldRec, s.tasks.get(uint64(fresh)), "the new tasklet has the old one's record")
	s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Send(b, "x")
		}
		return t.Exit()
	}))
	require.NoError(t, s.Run(ctx))
	assert.Equal(t, "x", second, "the receiver waiting on b got the value")
	assert.Nil(t, got, "the value sent on b reached the new tasklet")
	assert.Equal(t, tasklet.Paused, s.tasks.get(uint64(fresh)).State(), "the new tasklet is still paused")
	assert.Equal(t, 0, s.Channel(b).Balance())
}

// With change tracking on, records are not reused: the list of changed
// records would name a reused one for two tasklets.
func TestNoReuseWithChangeTracking(t *testing.T) {
	s := New(WithChangeTracking())
	first := s.Spawn(stepFunc(exitNow))
	old := s.tasks.get(uint64(first))
	require.NoError(t, s.Run(context.Background()))
	second := s.Spawn(stepFunc(exitNow))
	assert.NotSame(t, old, s.tasks.get(uint64(second)))
	ch := s.TakeChanges()
	assert.Equal(t, []tasklet.ID{second}, ch.Tasklets)
	assert.Equal(t, []tasklet.ID{first}, ch.DeadTasklets)
}

// A table whose pages empty and fill again, as the page of the newest IDs
// does when few tasklets live at a time, makes no new page each time.
func TestTableReusesAnEmptiedPage(t *testing.T) {
	var tb table[rec]
	r := &rec{}
	id := uint64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		tb.put(id, r)
		tb.del(id)
		id += 1 << pageBits // the next page
	})
	assert.Zero(t, allocs, "allocations per page filled and emptied")
	assert.Zero(t, tb.n)
	assert.Nil(t, tb.get(id-1<<pageBits))
	tb.put(id, r)
	assert.Same(t, r, tb.get(id))
	assert.Equal(t, 1, tb.n)
}
