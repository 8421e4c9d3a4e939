package scheduler

// Counters for observers (the web observer's /metrics, a cluster worker's
// status). The scheduler keeps them with a plain add on its own goroutine,
// a burst's switches added once at its end, so keeping them costs the hot
// path about one instruction per channel operation; like every other
// method they are read on the scheduler's goroutine or between runs.

// Switches is the number of times a tasklet was switched in to run: once
// per turn of a tasklet, however many steps the turn took. A burst of
// switches that a panicking step ended is not counted.
func (s *Scheduler) Switches() uint64 { return s.switches }

// ChannelOps is the number of channel operations the tasklets did: every
// Send, Recv and Select a step returned, local or remote, whether it
// completed at once or blocked.
func (s *Scheduler) ChannelOps() uint64 { return s.chanOps }

// Blocked is the number of live tasklets that are neither runnable nor
// paused: blocked on a channel, a remote operation or an effect, or
// sleeping.
func (s *Scheduler) Blocked() int {
	return max(s.Len()-s.RunCount()-s.paused, 0)
}

// TimerCount is the number of timers the scheduler holds (sleeps, select
// timeouts). A select's timeout whose select another case ended counts
// until the scheduler sweeps it, so this is an upper bound.
func (s *Scheduler) TimerCount() int { return s.timers.len() }
