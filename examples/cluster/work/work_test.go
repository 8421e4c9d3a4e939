package work

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// In one scheduler, work tasklets and a collector compute what Expected
// computes directly.
func TestWorkAndCollectorMatchTheDirectComputation(t *testing.T) {
	s := scheduler.New()
	in := s.NewChannel(0)
	col := &Collector{In: in, Want: 3}
	s.Spawn(col)
	for _, seed := range []uint64{1, 2, 3} {
		s.Spawn(&Work{Out: in, Seed: seed, Links: 1000, PerStep: 64})
	}
	require.NoError(t, s.Run(context.Background()))
	assert.True(t, col.Done)
	assert.Equal(t, 3, col.Got)
	assert.Equal(t, Expected(1, 1000)^Expected(2, 1000)^Expected(3, 1000), col.Xor)
}

func TestWorkSeedsFromItsIDWhenGivenNone(t *testing.T) {
	s := scheduler.New()
	in := s.NewChannel(1)
	w := &Work{Out: in, Links: 10, PerStep: 3}
	id := s.Spawn(w)
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, uint64(id), w.Seed)
	v, ok, err := s.TryRecv(in)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, Digest{Seed: uint64(id), Sum: Expected(uint64(id), 10)}, v)
}

func TestTickerCountsOnTheClock(t *testing.T) {
	s := scheduler.New() // virtual clock: sleeps take no wall time
	k := &Ticker{Every: time.Second, Limit: 5}
	s.Spawn(k)
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, 5, k.Count)
	assert.True(t, k.Done)
	assert.Equal(t, 5*time.Second, s.Now())
}

func TestSpawnersCheckTheirArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(map[string]string) error
	}{
		{"work without out", func(a map[string]string) error { _, err := spawnWork(a); return err }},
		{"work with bad links", func(map[string]string) error {
			_, err := spawnWork(map[string]string{"out": "ch1", "links": "-1"})
			return err
		}},
		{"collector without in", func(a map[string]string) error { _, err := spawnCollector(a); return err }},
		{"ticker with bad period", func(map[string]string) error {
			_, err := spawnTicker(map[string]string{"every_ms": "0"})
			return err
		}},
		// A typo was ignored: the tasklet was spawned with the default.
		{"ticker with a misspelt argument", func(map[string]string) error {
			_, err := spawnTicker(map[string]string{"every_sm": "5"})
			return err
		}},
		{"work with a misspelt argument", func(map[string]string) error {
			_, err := spawnWork(map[string]string{"out": "ch1", "linsk": "5"})
			return err
		}},
		{"collector with a misspelt argument", func(map[string]string) error {
			_, err := spawnCollector(map[string]string{"in": "ch1", "wnat": "5"})
			return err
		}},
		// every_ms * 1ms overflowed into a negative sleep.
		{"ticker with a huge period", func(map[string]string) error {
			_, err := spawnTicker(map[string]string{"every_ms": "9999999999999"})
			return err
		}},
	} {
		assert.Error(t, tc.fn(map[string]string{}), tc.name)
	}
	_, err := spawnTicker(map[string]string{"every_sm": "5", "limit": "1"})
	assert.ErrorContains(t, err, "unknown argument every_sm: this kind takes every_ms, limit")
	b, err := spawnWork(map[string]string{"out": "ch5", "links": "7", "per_step": "2", "seed": "9"})
	require.NoError(t, err)
	assert.Equal(t, &Work{Out: 5, Seed: 9, Links: 7, PerStep: 2}, b)
}
