package scheduler

import "time"

// checkpointer calls a function between steps every so many steps or so
// much wall time; package store uses it for automatic checkpoints.
type checkpointer struct {
	every     uint64
	interval  time.Duration
	fn        func(*Scheduler) error
	lastSteps uint64
	lastAt    time.Time
}

// WithCheckpoint calls fn between two steps every `every` steps and every
// `interval` of wall time (0 turns either off). An error from fn stops Run
// and Tick, which return it. store.Checkpointer builds such an fn.
func WithCheckpoint(every uint64, interval time.Duration, fn func(*Scheduler) error) Option {
	return func(s *Scheduler) {
		s.ckpt = checkpointer{every: every, interval: interval, fn: fn, lastAt: time.Now()}
	}
}

func (c *checkpointer) maybe(s *Scheduler, spins uint) error {
	due := c.every > 0 && s.steps-c.lastSteps >= c.every
	if !due && c.interval > 0 && spins&255 == 0 {
		due = time.Since(c.lastAt) >= c.interval
	}
	if !due {
		return nil
	}
	c.lastSteps, c.lastAt = s.steps, time.Now()
	return c.fn(s)
}
