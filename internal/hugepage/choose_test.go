package hugepage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The first chunk samples huge pages and puts the rest on small ones; once
// both are measured, the cheaper takes whole chunks.
func TestChooserTriesBothThenTakesTheCheaper(t *testing.T) {
	var c chooser
	sample, rest := c.plan()
	assert.True(t, sample, "first sample: huge pages")
	assert.False(t, rest, "the rest of the first chunk: small pages until measured")
	c.record(true, 5*time.Millisecond, 2<<20)
	c.record(false, 600*time.Microsecond, 2<<20)
	sample, rest = c.plan()
	assert.False(t, sample)
	assert.False(t, rest, "small pages were the cheaper")

	var bare chooser
	bare.record(true, 100*time.Microsecond, 2<<20)
	bare.record(false, 300*time.Microsecond, 2<<20)
	sample, rest = bare.plan()
	assert.True(t, sample)
	assert.True(t, rest, "huge pages were the cheaper")
}

// The other size is tried again every few chunks, less often each time it
// loses, and takes over when it wins.
func TestChooserRetriesTheOtherSize(t *testing.T) {
	var c chooser
	c.record(true, 5*time.Millisecond, 2<<20)
	c.record(false, 600*time.Microsecond, 2<<20)
	tries := func(chunks int, hugeCost time.Duration) []int {
		var at []int
		for i := range chunks {
			sample, rest := c.plan()
			assert.False(t, rest, "chunk %d: the rest stays on the cheaper size", i)
			if sample {
				at = append(at, i)
				c.record(true, hugeCost, 2<<20)
			}
			c.record(false, 600*time.Microsecond, 2<<20)
		}
		return at
	}
	at := tries(40, 5*time.Millisecond)
	if assert.Len(t, at, 3, "huge pages tried at %v", at) {
		assert.Equal(t, retryMin, at[0], "first retry after retryMin chunks")
		assert.Greater(t, at[2]-at[1], at[1]-at[0], "each lost try waits longer")
	}
	// The machine changed: huge pages got cheap. Their next try wins,
	// and a second cheap sample makes them the median's choice.
	for range 200 {
		sample, rest := c.plan()
		if rest {
			break
		}
		if sample {
			c.record(true, 100*time.Microsecond, 2<<20)
		}
	}
	_, rest := c.plan()
	assert.True(t, rest, "huge pages take over once their samples win")
}

// One stray sample does not turn the choice: it goes by the median of
// the last three of each size.
func TestChooserIgnoresAStraySample(t *testing.T) {
	var c chooser
	c.record(true, 5*time.Millisecond, 2<<20)
	for range 3 {
		c.record(false, 600*time.Microsecond, 2<<20)
	}
	c.record(false, 8*time.Millisecond, 2<<20) // one slow small sample
	_, rest := c.plan()
	assert.False(t, rest, "small pages stay the cheaper")
	c.record(true, 100*time.Microsecond, 2<<20) // one fast huge sample of three
	_, rest = c.plan()
	assert.False(t, rest, "huge pages' median is still 5 ms")
}

// After ReserveHeap, every chunk goes on huge pages.
func TestChooserInsists(t *testing.T) {
	c := chooser{insist: true}
	c.record(true, 5*time.Millisecond, 2<<20)
	c.record(false, 600*time.Microsecond, 2<<20)
	for range 10 {
		sample, rest := c.plan()
		assert.True(t, sample)
		assert.True(t, rest)
	}
}

// Empty and instant samples tell nothing.
func TestChooserSkipsEmptySamples(t *testing.T) {
	var c chooser
	c.record(true, 0, 2<<20)
	c.record(false, time.Millisecond, 0)
	assert.Empty(t, c.costs[huge])
	assert.Empty(t, c.costs[small])
}
