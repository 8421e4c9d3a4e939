package scheduler

import (
	"sync/atomic"
	"time"
)

// Clock tells the scheduler the time as a duration since the world began.
// Timers and sleeps use it; snapshots store it.
type Clock interface {
	Now() time.Duration
}

// VirtualClock is a clock that moves only when told to: by the game loop,
// by a test, or by Run when every tasklet sleeps. It makes runs reproducible.
type VirtualClock struct{ now atomic.Int64 }

// NewVirtualClock returns a virtual clock reading start.
func NewVirtualClock(start time.Duration) *VirtualClock {
	c := &VirtualClock{}
	c.now.Store(int64(start))
	return c
}

// Now returns the clock's reading.
func (c *VirtualClock) Now() time.Duration { return time.Duration(c.now.Load()) }

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// Set moves the clock to t (never backwards).
func (c *VirtualClock) Set(t time.Duration) { c.moveTo(t) }

// moveTo is Set that returns the reading it leaves: t, or a later one.
func (c *VirtualClock) moveTo(t time.Duration) time.Duration {
	for {
		old := c.now.Load()
		if int64(t) <= old {
			return time.Duration(old)
		}
		if c.now.CompareAndSwap(old, int64(t)) {
			return t
		}
	}
}

// RealClock reads the monotonic wall clock, starting at start (a restored
// world goes on from the time it was saved at).
type RealClock struct {
	base  time.Time
	start time.Duration
}

// NewRealClock returns a wall clock that reads start now.
func NewRealClock(start time.Duration) *RealClock {
	return &RealClock{base: time.Now(), start: start}
}

// Now returns the time since the world began.
func (c *RealClock) Now() time.Duration { return c.start + time.Since(c.base) }
