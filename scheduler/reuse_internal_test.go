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
// case that did not fire, ahead of a receiver that still waits there. The
// entry names the record and the select's wait sequence. A new tasklet's
// waits count from 0 again, so on that record its first wait would match
// the entry: the record is not reused, and a value sent there goes to the
// receiver behind the entry, not to the new tasklet, which waits elsewhere.
func TestRecordWithStaleEntriesIsNotReused(t *testing.T) {
	s := New()
	ctx := context.Background()
	a, b, c := s.NewChannel(0), s.NewChannel(0), s.NewChannel(0)
	old := s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		switch t.Steps() {
		case 2:
			return t.Yield() // so that it ends last, its record the first one reused
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

	var got any
	fresh := s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Recv(c) // its first wait: sequence 1, as the select's was
		}
		got = t.Value()
		return t.Exit()
	}))
	assert.NotSame(t, oldRec, s.tasks.get(uint64(fresh)), "a record named by a stale entry is not reused")
	require.Error(t, s.Run(ctx), "the new tasklet waits on c")
	s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Send(b, "x")
		}
		return t.Exit()
	}))
	require.Error(t, s.Run(ctx), "the new tasklet still waits on c")
	assert.Equal(t, "x", second, "the receiver waiting on b got the value")
	assert.Nil(t, got, "the value sent on b reached the tasklet waiting on c")
	w, ok := s.WaitOf(fresh)
	require.True(t, ok, "the new tasklet still waits")
	assert.Equal(t, []tasklet.Case{{Dir: tasklet.DirRecv, Chan: c}}, w.Cases)
	assert.Equal(t, 0, s.Channel(b).Balance())
}

// A reused record starts its waits at sequence 0, as a fresh one does: the
// sequences are part of a saved world, and a world restored from a snapshot
// (fresh records) must go on exactly as the uninterrupted run (reused ones).
func TestReusedRecordStartsAFreshWaitSequence(t *testing.T) {
	s := New()
	ctx := context.Background()
	ch := s.NewChannel(0)
	var old *rec
	var lastWait uint32
	first := s.Spawn(stepFunc(func(t *tasklet.T) tasklet.Op {
		if t.Steps() < 4 {
			return t.Recv(ch)
		}
		lastWait = old.WaitSeq()
		return t.Exit()
	}))
	old = s.tasks.get(uint64(first))
	for i := range 3 { // the host sends: the receiver's record is the only one to reuse
		require.NoError(t, s.Send(ctx, ch, i))
	}
	require.NoError(t, s.Run(ctx))
	require.NotZero(t, lastWait, "the ended tasklet waited")

	next := s.Spawn(stepFunc(exitNow))
	r := s.tasks.get(uint64(next))
	require.Same(t, old, r, "plain waits leave nothing behind: the record is reused")
	assert.Zero(t, r.WaitSeq())
	w := s.World()
	require.Len(t, w.Tasklets, 1)
	assert.Zero(t, w.Tasklets[0].Wait)
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

// The table's page cache never answers for a page that emptied, and pages
// whose keys share a cache slot each find their own records, whichever
// was cached last; every record is found after any order of puts and dels.
func TestTableCacheAnswersOnlyForLivePages(t *testing.T) {
	var tb table[rec]
	recs := map[uint64]*rec{}
	// Keys 0, cacheSlots, 2*cacheSlots... share slot 0; spread the IDs over
	// many pages in an order that interleaves old and new pages, as a
	// program spawning as many as end does.
	var ids []uint64
	for k := range uint64(4 * cacheSlots) {
		for j := range uint64(3) {
			ids = append(ids, k<<pageBits|j*7)
		}
	}
	for i, id := range ids {
		recs[id] = &rec{}
		tb.put(id, recs[id])
		if i%3 == 2 { // end one of the oldest
			old := ids[i/3]
			tb.del(old)
			delete(recs, old)
		}
		for other, r := range recs {
			require.Same(t, r, tb.get(other), "record %d after put %d", other, id)
		}
		for _, gone := range ids[:i/3+1] {
			if recs[gone] == nil {
				// Its page may be emptied and made again for other IDs.
				require.Nil(t, tb.get(gone), "ended record %d after put %d", gone, id)
			}
		}
	}
	for id := range recs {
		tb.del(id)
	}
	assert.Zero(t, tb.n)
	for _, id := range ids {
		assert.Nil(t, tb.get(id), "a record of an emptied page: %d", id)
	}
	for _, c := range tb.cache {
		assert.Nil(t, c.p, "a cached page that emptied")
	}
}
