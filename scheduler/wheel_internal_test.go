package scheduler

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// wheelRec is a record whose timers stay live until killed.
func wheelRec(id uint64) *rec {
	r := (*rec)(core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](id, nil, nil))
	r.SetState(tasklet.Sleeping)
	return r
}

// popDue pops every timer due at now from w, in the order the scheduler
// fires them, dropping stale ones as fireTimers does.
func popDue(w *timerWheel, now time.Duration) []timer {
	var out []timer
	for tm := w.first(); tm != nil && tm.at <= now; tm = w.first() {
		if tm := w.pop(); tm.live() {
			out = append(out, tm)
		}
	}
	return out
}

// The wheel must give exactly the order of one heap of all timers: by
// deadline, ties by sequence. Deadlines spread over every level (from the
// same level-0 slot to centuries away), with ties, timers set while others
// fire, some made stale, and the clock jumping by small and huge steps.
func TestTimerWheelOrderMatchesReference(t *testing.T) {
	spans := []time.Duration{
		1 << wheelGrain,       // within a level-0 slot or two
		1 << (wheelGrain + 7), // level 1
		time.Second,           // levels 2 and 3
		time.Hour,             // cascades from level 4
		100 * 365 * 24 * time.Hour,
	}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w timerWheel
		var ref []timer // the live timers, kept sorted at each check
		var seq uint64
		now := time.Duration(0)
		add := func(at time.Duration) {
			seq++
			r := wheelRec(seq)
			tm := timer{at: at, seq: seq, t: r, wait: r.WaitSeq(), idx: -1}
			w.push(tm)
			ref = append(ref, tm)
		}
		for round := range 200 {
			for range rng.IntN(40) {
				d := time.Duration(rng.Int64N(int64(spans[rng.IntN(len(spans))])))
				if rng.IntN(4) == 0 && len(ref) > 0 { // a tie with a pending timer
					d = ref[rng.IntN(len(ref))].at - now
				}
				add(now + d)
			}
			if rng.IntN(5) == 0 && len(ref) > 0 { // a killed sleeper
				i := rng.IntN(len(ref))
				ref[i].t.NextWait()
				ref = slices.Delete(ref, i, i+1)
			}
			switch rng.IntN(4) {
			case 0: // jump to the next deadline, as Run does
				if tm := w.first(); tm != nil {
					now = max(now, tm.at)
				}
			case 1:
				now += time.Duration(rng.Int64N(int64(time.Millisecond)))
			case 2:
				now += time.Duration(rng.Int64N(int64(spans[rng.IntN(len(spans))])))
			}
			got := popDue(&w, now)
			slices.SortFunc(ref, func(a, b timer) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
			n := 0
			for n < len(ref) && ref[n].at <= now {
				n++
			}
			require.Equal(t, seqs(ref[:n]), seqs(got), "seed %d round %d: fired at %v", seed, round, now)
			ref = slices.Delete(ref, 0, n)
		}
		assert.Equal(t, seqs(ref), seqs(popDue(&w, math.MaxInt64)), "seed %d: the rest, in order", seed)
		assert.Zero(t, w.len(), "seed %d: nothing left", seed)
	}
}

func seqs(tms []timer) []uint64 {
	out := make([]uint64, len(tms))
	for i, tm := range tms {
		out[i] = tm.seq
	}
	return out
}

// Timers far beyond the highest level slot (the end of time included) and
// timers already past when set (a restored world) keep their order.
func TestTimerWheelFarAndPastDeadlines(t *testing.T) {
	var w timerWheel
	ats := []time.Duration{math.MaxInt64, 3, math.MaxInt64 - 1, 1 << 62, 0, 1 << 40, math.MaxInt64}
	for i, at := range ats {
		r := wheelRec(uint64(i + 1))
		w.push(timer{at: at, seq: uint64(i + 1), t: r, wait: r.WaitSeq(), idx: -1})
	}
	got := popDue(&w, 1<<40)
	assert.Equal(t, []uint64{5, 2, 6}, seqs(got))
	r := wheelRec(99)
	w.push(timer{at: 1, seq: 99, t: r, wait: r.WaitSeq(), idx: -1}) // in the past now
	assert.Equal(t, []uint64{99, 4, 3, 1, 7}, seqs(popDue(&w, math.MaxInt64)))
}

// A sweep keeps the live timers of every level, in order, and frees the
// chunks of the stale ones for reuse.
func TestTimerWheelSweepKeepsLiveTimers(t *testing.T) {
	var w timerWheel
	var live []uint64
	for i := range 5000 {
		r := wheelRec(uint64(i + 1))
		at := time.Duration(i%97) * time.Duration(1<<(wheelGrain+i%30))
		w.file(timer{at: at, seq: uint64(i + 1), t: r, wait: r.WaitSeq(), idx: -1})
		if i%3 == 0 {
			live = append(live, uint64(i+1))
		} else {
			r.NextWait()
		}
	}
	chunks := len(w.chunks)
	w.sweep()
	assert.Equal(t, len(live), w.len())
	got := seqs(popDue(&w, math.MaxInt64))
	slices.Sort(got)
	assert.Equal(t, live, got)
	for range 5000 { // the freed chunks are enough again
		r := wheelRec(1)
		w.file(timer{at: time.Hour, seq: 1, t: r, wait: r.WaitSeq(), idx: -1})
	}
	assert.Equal(t, chunks, len(w.chunks), "chunks are reused, not allocated")
}

// When the wheel's time reaches the end of a level-1 slot that is also the
// end of a level-2 slot, the level-2 slot it enters must be cascaded before
// later timers set meanwhile at lower levels: D (set after the wheel moved)
// fires after A.
func TestTimerWheelCrossesLevelBoundary(t *testing.T) {
	const l1, l2 = 1 << (wheelGrain + wheelBits), 1 << (wheelGrain + 2*wheelBits)
	var w timerWheel
	var seq uint64
	add := func(at time.Duration) {
		seq++
		r := wheelRec(seq)
		w.push(timer{at: at, seq: seq, t: r, wait: r.WaitSeq(), idx: -1})
	}
	add(l2 - 1)    // X: the last level-0 slot before the boundary
	add(l2 - 1)    // Y: a tie, still in the heap when D and B are set
	add(l2 + 5*l1) // A: the level-2 slot after it
	require.NotNil(t, w.first())
	require.Equal(t, uint64(1), w.pop().seq)
	add(l2 + 10*l1) // D: later than A
	add(l2 + l1)    // B: earlier than A
	assert.Equal(t, []uint64{2, 5, 3, 4}, seqs(popDue(&w, math.MaxInt64)))
}

// nextOcc finds the first occupied slot at or after a position across the
// words of a level's bitmap, and none past the last slot.
func TestTimerWheelNextOccupiedSlot(t *testing.T) {
	var w timerWheel
	for _, s := range []uint64{3, 63, 64, 200, wheelSlots - 1} {
		w.occ[1][s/64] |= 1 << (s % 64)
	}
	for _, tc := range []struct {
		pos  uint64
		want int
	}{{0, 3}, {3, 3}, {4, 63}, {64, 64}, {65, 200}, {201, wheelSlots - 1}, {wheelSlots - 1, wheelSlots - 1}, {wheelSlots, -1}} {
		assert.Equal(t, tc.want, w.nextOcc(1, tc.pos), "from %d", tc.pos)
	}
	assert.Equal(t, -1, w.nextOcc(0, 0), "an empty level")
}

// Windows of every size fire in order with the prefetch on: a crowded one
// (more timers than the prefetch runs ahead), sparse ones, and windows of
// fewer timers than the prefetch distance (no index out of range).
func TestTimerWheelPrefetchKeepsUp(t *testing.T) {
	defer func(n int) { prefetchFrom = n }(prefetchFrom)
	prefetchFrom = 0
	var w timerWheel
	var seq uint64
	for i := range 3000 {
		seq++
		r := wheelRec(seq)
		at := time.Duration(i%300) << (wheelGrain + 5) // 10 timers a bucket, windows of 80
		switch {
		case i < 200:
			at = 5 << wheelGrain // one crowded bucket
		case i < 205:
			at = time.Duration(i) << (windowShift + 4) // windows of one timer
		}
		w.push(timer{at: at, seq: seq, t: r, wait: r.WaitSeq(), idx: -1})
	}
	got := popDue(&w, math.MaxInt64)
	require.Len(t, got, 3000)
	for i := 1; i < len(got); i++ {
		require.False(t, got[i].before(&got[i-1]), "fired in order at %d", i)
	}
	assert.Zero(t, w.len(), "nothing left")
}

// Timers set while a window fires, due before its end (a short sleep among
// long ones), go into the heap and fire merged with the window in order,
// ties by sequence: the late 2 ms timer after the one set before it.
func TestTimerWheelWindowMergesLateTimers(t *testing.T) {
	var w timerWheel
	var seq uint64
	add := func(at time.Duration) {
		seq++
		r := wheelRec(seq)
		w.push(timer{at: at, seq: seq, t: r, wait: r.WaitSeq(), idx: -1})
	}
	for i := range 40 { // a window large enough to bucket-sort
		add(time.Duration(3+i%5) * time.Millisecond / 2)
	}
	require.NotNil(t, w.first())
	require.Equal(t, uint64(1), w.pop().seq, "the window is made and fires")
	require.NotEmpty(t, w.win, "the rest wait in the window")
	add(time.Millisecond)     // 41: before everything left
	add(2 * time.Millisecond) // 42: a tie with 2, 7, ...: after them
	got := seqs(popDue(&w, math.MaxInt64))
	require.Len(t, got, 41)
	assert.Equal(t, uint64(41), got[0], "the late early timer first")
	at2 := []uint64{}
	for _, s := range got {
		if s == 42 || (s <= 40 && (s-1)%5 == 1) {
			at2 = append(at2, s)
		}
	}
	assert.Equal(t, []uint64{2, 7, 12, 17, 22, 27, 32, 37, 42}, at2, "ties at 2 ms by sequence")
	assert.Zero(t, w.len())
}

// Windows of every size the bucket sort handles (insertion alone, the
// fewest and the most buckets, and more timers than buckets) come out in
// exact (deadline, sequence) order, ties included.
func TestTimerWheelLargeWindowsSortExactly(t *testing.T) {
	for _, n := range []int{insertionMax, insertionMax + 1, 300, 3000, 1 << (maxBucketBits + 2)} {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		var w timerWheel
		var ref []timer
		for i := range n {
			at := time.Duration(rng.Int64N(2 << windowShift)) // two windows
			if i > 0 && rng.IntN(5) == 0 {
				at = ref[rng.IntN(len(ref))].at // a tie
			}
			r := wheelRec(uint64(i + 1))
			tm := timer{at: at, seq: uint64(i + 1), t: r, wait: r.WaitSeq(), idx: -1}
			w.push(tm)
			ref = append(ref, tm)
		}
		slices.SortFunc(ref, func(a, b timer) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
		require.Equal(t, seqs(ref), seqs(popDue(&w, math.MaxInt64)), "%d timers", n)
	}
}

// A fired window is not cleared until the next one overwrites it, but what
// the next one does not overwrite is, and all of it once no timer is left:
// the window's array names no finished tasklet after that.
func TestTimerWheelReleasesFiredWindows(t *testing.T) {
	var w timerWheel
	held := func() (n int) {
		for _, tm := range w.win[:cap(w.win)] {
			if tm.t != nil {
				n++
			}
		}
		return n
	}
	var seq uint64
	add := func(at time.Duration) {
		seq++
		r := wheelRec(seq)
		w.push(timer{at: at, seq: seq, t: r, wait: r.WaitSeq(), idx: -1})
	}
	for i := range 100 { // a window of 100, then one of 10
		add(time.Duration(i) << wheelGrain)
	}
	for i := range 10 {
		add(1<<windowShift + time.Duration(i)<<wheelGrain)
	}
	require.Len(t, popDue(&w, 1<<windowShift-1), 100)
	require.NotNil(t, w.first()) // makes the second window
	assert.Equal(t, 10, held(), "the first window's timers past the second's are cleared")
	require.Len(t, popDue(&w, math.MaxInt64), 10)
	assert.Nil(t, w.first())
	assert.Zero(t, held(), "no timer left: the window is cleared")
}

// The counts a slot keeps (its tail chunk's and its own) stay right through
// sweeps that drop timers from the middle and the tail of its chunks and
// filings after them.
func TestTimerWheelSlotCountsSurviveSweeps(t *testing.T) {
	var w timerWheel
	var seq uint64
	var live []uint64
	recs := map[uint64]*rec{}
	for round := range 3 {
		for i := range 3*chunkLen + 5 {
			seq++
			r := wheelRec(seq)
			recs[seq] = r
			w.file(timer{at: time.Hour + time.Duration(i), seq: seq, t: r, wait: r.WaitSeq(), idx: -1})
		}
		for s, r := range recs {
			if (s+uint64(round))%3 == 0 && r.State() == tasklet.Sleeping {
				r.NextWait() // stale
				r.SetState(tasklet.Runnable)
			}
		}
		w.sweep()
		n := 0
		for lvl := range w.slots {
			for s := range w.slots[lvl] {
				l := &w.slots[lvl][s]
				k := 0
				for c := l.head; c != 0; c = w.next[c] {
					k += l.lenOf(c)
					if c != l.tail {
						assert.Equal(t, chunkLen, l.lenOf(c), "chunks before the tail are full")
					}
				}
				assert.Equal(t, int(l.n), k)
				n += k
			}
		}
		assert.Equal(t, w.n, n)
	}
	for s, r := range recs {
		if r.State() == tasklet.Sleeping {
			live = append(live, s)
		}
	}
	got := seqs(popDue(&w, math.MaxInt64))
	slices.Sort(got)
	slices.Sort(live)
	assert.Equal(t, live, got)
}
