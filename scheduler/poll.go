package scheduler

// PollMode says at which point of a run the scheduler calls the poll
// function of SetPoll.
type PollMode uint8

const (
	// PollBusy is between two slices of a run, after the flush.
	PollBusy PollMode = iota
	// PollIdle is when nothing is runnable, no posted input waits and no
	// timer is due, just before the scheduler would park to wait for
	// input. The function's result counts only here: true asks to be
	// called again instead of parking.
	PollIdle
	// PollStop is when the outermost Run, RunBudget or Tick returns: the
	// scheduler's goroutine polls no more until the next one, so input it
	// was taking must go back to whatever takes it meanwhile.
	PollStop
)

// SetPoll registers fn, through which a Remote takes input on the
// scheduler's goroutine without waiting (package ipc reads its
// shared-memory rings with it), so that a message which arrives while the
// scheduler runs or is about to park is handled without waking any other
// goroutine. fn may do what a function passed to Do may. Returning true
// for PollIdle keeps the scheduler's goroutine spinning on fn instead of
// parking: fn must bound how long it keeps asking, since the goroutine
// holds a core meanwhile (posted input, due timers and the end of the
// run's context are still noticed between two calls).
func (s *Scheduler) SetPoll(fn func(PollMode) bool) { s.pollFn = fn }

// pollBusy calls the poll function between slices.
func (s *Scheduler) pollBusy() {
	if s.pollFn != nil {
		s.pollFn(PollBusy)
	}
}

// pollIdle calls the poll function before a park and reports whether to
// look for work again instead of parking.
func (s *Scheduler) pollIdle() bool {
	return s.pollFn != nil && s.pollFn(PollIdle)
}

// pollStop tells the poll function that the outermost run is over.
func (s *Scheduler) pollStop() {
	if s.pollFn != nil && s.running == 0 {
		s.pollFn(PollStop)
	}
}
