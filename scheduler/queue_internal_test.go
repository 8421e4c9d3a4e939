package scheduler

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

// recvForever blocks on Ch for good.
type recvForever struct{ Ch tasklet.ChanID }

func (r *recvForever) Step(t *tasklet.T) tasklet.Op { return t.Recv(r.Ch) }

// probe sleeps once, then records how much room the run queue keeps.
type probe struct {
	s     *Scheduler
	woke  bool
	queue int
}

func (p *probe) Step(t *tasklet.T) tasklet.Op {
	if !p.woke {
		p.woke = true
		return t.Sleep(time.Second)
	}
	p.queue = len(p.s.runq.buf)
	return t.Exit()
}

// A world whose tasklets all wait keeps no run-queue room for them: it was
// 8 bytes per idle tasklet, a twentieth of an idle tasklet's memory.
func TestRunQueueReleasedWhenEveryTaskletWaits(t *testing.T) {
	s := New()
	ch := s.NewChannel(0)
	p := &probe{s: s}
	s.Spawn(p)
	for range 10_000 {
		s.Spawn(&recvForever{Ch: ch})
	}
	require.Greater(t, len(s.runq.buf), keepRunQueue, "spawning grew the run queue")
	require.ErrorIs(t, s.Run(context.Background()), ErrDeadlock)
	require.True(t, p.woke)
	// The ring ends as the spill's last chunk (8 KiB), which is let go
	// too: in a big world it is part of a slab's chunk, which it would keep.
	assert.LessOrEqual(t, p.queue, keepRunQueue, "while every tasklet waited for the clock")
	assert.Less(t, len(s.runq.buf), spillLen, "after Run returned with every tasklet blocked")
	assert.Empty(t, s.runq.sp.free, "spare spill chunks")
	assert.Zero(t, s.runq.sp.len())
	assert.Equal(t, 10_000, s.Len())

	// A small world keeps its array: running a batch of tasklets at a
	// time does not grow it again for every batch.
	s = New()
	for range 1000 {
		s.Spawn(&probe{s: s})
	}
	grown := len(s.runq.buf)
	require.Greater(t, grown, minRunQueue)
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, grown, len(s.runq.buf))
}

// Growing a full queue whose items wrap around the end of its array keeps
// their order, front to back (grow copies the two runs of the ring).
func TestRunQueueGrowKeepsOrderAcrossTheWrap(t *testing.T) {
	recs := make([]rec, 3*minRunQueue)
	var q runQueue
	var want []*rec
	for i := range minRunQueue / 2 {
		q.pushBack(&recs[i])
		want = append(want, &recs[i])
	}
	for i := minRunQueue / 2; i < minRunQueue; i++ { // wraps: head moves back from 0
		q.pushFront(&recs[i])
		want = append([]*rec{&recs[i]}, want...)
	}
	require.Equal(t, minRunQueue, len(q.buf))
	require.NotZero(t, q.head, "the items wrap around the end of the array")
	for i := minRunQueue; i < len(recs); i++ { // grows twice
		q.pushBack(&recs[i])
		want = append(want, &recs[i])
	}
	index := make(map[*rec]int, len(recs)) // zero records are deeply equal: compare positions
	for i := range recs {
		index[&recs[i]] = i
	}
	var wantIdx, got []int
	for _, r := range want {
		wantIdx = append(wantIdx, index[r])
	}
	for q.n > 0 {
		got = append(got, index[q.popFront()])
	}
	assert.Equal(t, wantIdx, got)
}

// The run queue against a slice: random pushes at both ends, pops,
// removals and batches, through a ring that reaches ringMax and a spill of
// several chunks, then down to a queue of a few where pushBehind uses first,
// keep one order, and at and len agree with it.
func TestRunQueueSpillKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q runQueue
	var model []*rec
	firsts := 0
	push := func(front bool) {
		r := new(rec) // each its own: remove takes the first one equal
		switch {
		case front:
			q.pushFront(r)
			model = append([]*rec{r}, model...)
			return
		case rng.IntN(2) == 0:
			q.pushBack(r)
		default:
			q.pushBehind(r)
			if q.first == r {
				firsts++
			}
		}
		model = append(model, r)
	}
	removeAny := func() {
		i := rng.IntN(len(model))
		require.True(t, q.remove(model[i]))
		model = append(model[:i], model[i+1:]...)
	}
	pop := func(step int) {
		require.False(t, q.drained(), "step %d: %d queued", step, len(model))
		require.Same(t, model[0], q.popFront(), "step %d", step)
		model = model[1:]
	}
	check := func(step int) {
		require.Equal(t, len(model), q.len(), "step %d", step)
		for _, i := range []int{0, len(model) / 2, len(model) - 1} {
			if i >= 0 && i < len(model) {
				require.Same(t, model[i], q.at(i), "step %d: at(%d)", step, i)
			}
		}
	}
	spilled := false
	for step := range 20_000 {
		switch op := rng.IntN(100); {
		case op < 2 && len(model) > 0: // remove one, anywhere
			removeAny()
		case op < 4:
			push(true)
		case op < 6:
			k := rng.IntN(1500)
			batch := make([]*rec, k)
			for j := range batch {
				batch[j] = new(rec)
			}
			q.pushAll(batch)
			model = append(model, batch...)
		case op < 60 || (step/5000)%2 == 0 && op < 75: // grow in waves
			push(false)
		case len(model) > 0:
			pop(step)
		}
		spilled = spilled || q.sp.len() > 0
		check(step)
	}
	require.True(t, spilled, "the test never reached the spill")
	for len(model) > 0 {
		pop(-1)
	}
	assert.Zero(t, q.len())
	assert.True(t, q.drained())

	// A queue of a few, as a ping-pong's, where pushBehind keeps one in first.
	for step := range 20_000 {
		switch op := rng.IntN(100); {
		case op < 5 && len(model) > 0:
			removeAny()
		case op < 15:
			push(true)
		case op < 50:
			push(false)
		case len(model) > 0:
			pop(step)
		default:
			require.True(t, q.drained(), "step %d", step)
		}
		check(step)
	}
	require.Greater(t, firsts, 300, "pushBehind seldom found the queue empty")
	assert.False(t, q.remove(new(rec)))
}

// Removing the tasklets a shed moves away, from the back of a queue of
// 20,000 (ring and spill): each removal costs what lies behind it.
func BenchmarkRunQueueRemoveFromBack(b *testing.B) {
	var q runQueue
	recs := make([]*rec, 20_000)
	for i := range recs {
		recs[i] = new(rec)
		q.pushBack(recs[i])
	}
	b.ResetTimer()
	for i := range b.N {
		r := recs[len(recs)-1-i%1000]
		if !q.remove(r) {
			b.Fatal("not queued")
		}
		q.pushBack(r)
	}
}
