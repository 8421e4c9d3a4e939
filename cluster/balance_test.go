package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func loads(r ...float64) []workerLoad {
	out := make([]workerLoad, len(r))
	for i, x := range r {
		out[i] = workerLoad{Node: uint16(i + 1), Runnable: x}
	}
	return out
}

func TestBalancerMovesHalfTheGapAfterConfirmation(t *testing.T) {
	b := newBalancer()
	now := time.Unix(0, 0)
	_, ok := b.decide(now, loads(9, 1))
	assert.False(t, ok, "one sample is not enough between two busy workers")
	m, ok := b.decide(now.Add(250*time.Millisecond), loads(9, 1))
	assert.True(t, ok)
	assert.Equal(t, loadMove{From: 1, To: 2, Count: 4}, m)
}

func TestBalancerFeedsAnIdleWorkerAtOnce(t *testing.T) {
	b := newBalancer()
	m, ok := b.decide(time.Unix(0, 0), loads(8, 0))
	assert.True(t, ok, "an idle core next to a busy one")
	assert.Equal(t, loadMove{From: 1, To: 2, Count: 4}, m)
}

func TestBalancerIgnoresSmallGaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    []float64
	}{
		{"balanced", []float64{4, 4}},
		{"gap of one", []float64{1, 0}},
		{"fractional gap under two", []float64{2.9, 1}},
		{"idle cluster", []float64{0, 0, 0}},
		{"one worker", []float64{9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer()
			now := time.Unix(0, 0)
			for i := range 5 {
				_, ok := b.decide(now.Add(time.Duration(i)*250*time.Millisecond), loads(tc.r...))
				assert.False(t, ok)
			}
		})
	}
}

func TestBalancerLetsMovedWorkersRestAndNeverBouncesBack(t *testing.T) {
	b := newBalancer()
	now := time.Unix(0, 0)
	tick := func(r ...float64) (loadMove, bool) {
		now = now.Add(250 * time.Millisecond)
		return b.decide(now, loads(r...))
	}
	m, ok := tick(6, 0, 0)
	assert.True(t, ok)
	assert.Equal(t, loadMove{From: 1, To: 2, Count: 3}, m)
	// Stale averages right after the move: workers 1 and 2 sit out.
	_, ok = tick(6, 0, 0)
	assert.False(t, ok)
	// Worker 2 now looks busy (a burst): no move back from 2 to 1 within
	// the cooldown, however often it is seen.
	for range 4 {
		_, ok = tick(0, 5, 3)
		assert.False(t, ok, "moving back to worker 1 so soon would thrash")
	}
	now = now.Add(b.Cooldown)
	m, ok = tick(0, 5, 3)
	assert.True(t, ok, "after the cooldown the way back is open")
	assert.Equal(t, loadMove{From: 2, To: 1, Count: 2}, m)
}

func TestBalancerNeedsTheSamePairTwice(t *testing.T) {
	b := newBalancer()
	now := time.Unix(0, 0)
	_, ok := b.decide(now, loads(7, 1, 4))
	assert.False(t, ok)
	_, ok = b.decide(now, loads(4, 7, 1)) // a different busiest: the streak restarts
	assert.False(t, ok)
	m, ok := b.decide(now, loads(4, 7, 1))
	assert.True(t, ok)
	assert.Equal(t, loadMove{From: 2, To: 3, Count: 3}, m)
}

func TestLeastLoaded(t *testing.T) {
	ls := []workerLoad{{Node: 1, Tasklets: 3}, {Node: 2, Tasklets: 1, Runnable: 1}, {Node: 3, Tasklets: 1}, {Node: 4, Tasklets: 1}}
	assert.Equal(t, 2, leastLoaded(ls), "fewest tasklets, then fewest runnable, then the lowest node")
	assert.Equal(t, -1, leastLoaded(nil))
}

// While another operation (a spawn, a checkpoint) holds the cluster, the
// balancer takes no sample: a spawn half done looks like an idle worker
// next to a busy one. This coordinator has no workers or links: a sample
// would fail on them.
func TestBalanceTakesNoSampleDuringAnOperation(t *testing.T) {
	c := &Coordinator{bal: newBalancer(), loads: map[uint16]workerLoad{}}
	c.op.Lock()
	defer c.op.Unlock()
	assert.NotPanics(t, c.balance)
	assert.Empty(t, c.loads)
	assert.Zero(t, c.bal.streak)
	assert.Nil(t, c.bal.lastMove)
}
