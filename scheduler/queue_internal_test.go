package scheduler

import (
	"context"
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
	assert.LessOrEqual(t, p.queue, minRunQueue, "while every tasklet waited for the clock")
	assert.LessOrEqual(t, len(s.runq.buf), minRunQueue, "after Run returned with every tasklet blocked")
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
