package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkersWaitForEveryPeer(t *testing.T) {
	m := newMarkers()
	m.arrive(1, 2) // a fast peer's marker may come before the wait
	done := make(chan error, 1)
	go func() { done <- m.wait(context.Background(), 1, []uint16{2, 3}) }()
	m.arrive(2, 3) // another round's marker does not count
	select {
	case err := <-done:
		t.Fatalf("wait returned before node 3's round-1 marker: %v", err)
	default:
	}
	m.arrive(1, 3)
	require.NoError(t, recvWithin(t, done, "the wait for round 1"))
	// Round 1 is forgotten, round 2 kept.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	assert.Error(t, m.wait(ctx, 1, []uint16{2}), "round 1 markers were consumed")
	require.NoError(t, m.wait(context.Background(), 2, []uint16{3}))
}

func TestMarkersWaitNamesTheMissingPeer(t *testing.T) {
	m := newMarkers()
	m.arrive(4, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.wait(ctx, 4, []uint16{1, 9})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "node 9")
}

func TestMarkersReset(t *testing.T) {
	m := newMarkers()
	m.arrive(1, 2)
	m.reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, m.wait(ctx, 1, []uint16{2}))
}

func TestFlushRoundsStopsAtTheFirstQuietRound(t *testing.T) {
	// counts[r] is what the workers report after round r+1.
	for _, tc := range []struct {
		name   string
		before map[uint16]uint64
		counts []map[uint16]uint64
		rounds int
	}{
		{"nothing in flight", map[uint16]uint64{1: 5, 2: 7}, []map[uint16]uint64{{1: 5, 2: 7}}, 1},
		{"one answer", map[uint16]uint64{1: 5, 2: 7}, []map[uint16]uint64{{1: 6, 2: 7}, {1: 6, 2: 7}}, 2},
		{"a chain of answers", map[uint16]uint64{1: 0, 2: 0}, []map[uint16]uint64{{1: 1, 2: 0}, {1: 1, 2: 1}, {1: 2, 2: 1}, {1: 2, 2: 1}}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			n, err := flushRounds(context.Background(), 10, tc.before, func(_ context.Context, r uint32) (map[uint16]uint64, error) {
				assert.Equal(t, uint32(calls+1), r)
				calls++
				return tc.counts[calls-1], nil
			})
			require.NoError(t, err)
			assert.Equal(t, tc.rounds, n)
			assert.Equal(t, tc.rounds, calls)
		})
	}
}

func TestFlushRoundsGivesUp(t *testing.T) {
	c := uint64(0)
	_, err := flushRounds(context.Background(), 3, map[uint16]uint64{1: 0}, func(context.Context, uint32) (map[uint16]uint64, error) {
		c++
		return map[uint16]uint64{1: c}, nil
	})
	assert.ErrorContains(t, err, "after 3 flush rounds")
	assert.ErrorContains(t, err, "nothing was stored: a periodic checkpoint tries again", "says what it means and what to do")

	boom := errors.New("worker gone")
	_, err = flushRounds(context.Background(), 3, map[uint16]uint64{1: 0}, func(context.Context, uint32) (map[uint16]uint64, error) {
		return nil, boom
	})
	assert.ErrorIs(t, err, boom)
}
