package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/stackless-go/stackless/tasklet"
)

// Budget says how RunBudget interrupts (Stackless run(timeout, soft, totaltimeout)).
type Budget uint8

const (
	// Timeslice (the default) gives every tasklet n steps per switch; a tasklet
	// that keeps running past them is interrupted.
	Timeslice Budget = 0
	// Total gives the whole run n steps.
	Total Budget = 1 << iota
	// Soft waits for the next switch instead of interrupting the running
	// tasklet, and returns no victim; nothing leaves the run queue.
	Soft
)

// watch is the state of a budgeted run.
type watch struct {
	slice   int // per-tasklet steps per switch, 0: none
	total   int // steps left in the run, <0: none
	soft    bool
	pending bool // budget spent, waiting for a switch (soft) or a non-atomic tasklet
	victim  *rec
	host    *rec // a host Recv or Send waits: the loop ends when it is popped
	hostRan bool // the host's turn came: its operation completed
}

// Run runs tasklets until every one has finished (nil), a tasklet fails and
// no error handler is set (its *TaskletError), tasklets are blocked with
// nothing to wake them (a *DeadlockError), or ctx ends (ctx.Err()). With a
// virtual clock, time jumps to the next timer whenever nothing is runnable.
func (s *Scheduler) Run(ctx context.Context) error {
	_, err := s.loop(ctx, nil)
	return err
}

// RunBudget runs like Run with a step budget (Stackless run(timeout)): n
// steps per tasklet per switch (Timeslice) or n steps in all (Total). In
// hard mode it returns the interrupted tasklet, paused and out of the run
// queue: Insert it to go on, or Kill it. In Soft mode it returns 0 at the
// first switch after the budget ran out. Atomic tasklets are never
// interrupted; the interrupt waits until they are not atomic. A return of 0
// and nil also means everything finished: Len tells the two apart.
func (s *Scheduler) RunBudget(ctx context.Context, n int, mode Budget) (tasklet.ID, error) {
	w := &watch{total: -1, soft: mode&Soft != 0}
	if mode&Total != 0 {
		w.total = n
	} else {
		w.slice = n
	}
	id, err := s.loop(ctx, w)
	return id, err
}

// endRun ends a Run, RunBudget or Tick: remote sends go out, a stop asked
// for from another goroutine is taken, and a big world that ended lets go
// of what is left of its chunks (records, behaviors, table pages, spill).
func (s *Scheduler) endRun() {
	s.running--
	s.flushRemote()
	s.pollStop()
	if s.tasks.n == 0 && s.block.Release() {
		s.slabs = nil
		s.tasks.release()
		s.chans.release()
		s.runq.releaseChunks()
	}
}

// loop runs the scheduler with one recover for the whole run instead of a
// defer per step: a panicking step unwinds to here, its tasklet is ended,
// and the loop starts again.
func (s *Scheduler) loop(ctx context.Context, w *watch) (tasklet.ID, error) {
	s.running++
	defer s.endRun()
	for {
		id, err, panicked := s.loopSafe(ctx, w)
		if !panicked {
			return id, err
		}
	}
}

func (s *Scheduler) loopSafe(ctx context.Context, w *watch) (id tasklet.ID, err error, panicked bool) {
	defer s.recoverStep(&panicked)
	id, err = s.run(ctx, w)
	return id, err, false
}

// recoverStep turns a panic in the running step into the failure of its
// tasklet. A panic outside any step is the scheduler's own and goes on.
func (s *Scheduler) recoverStep(panicked *bool) {
	if s.current == nil {
		return
	}
	r := recover()
	if r == nil {
		return
	}
	t := s.current
	s.frontNext()
	t.Deliver(nil, nil)
	s.current, s.prev = nil, t.ID()
	s.finish(t, &TaskletError{ID: t.ID(), Kind: s.KindOf(t.Behavior()), Step: t.Steps(),
		Err: fmt.Errorf("%w: %v", ErrTaskletPanic, r), Panic: r, Stack: string(debug.Stack())})
	s.queueImmediate()
	*panicked = true
}

func (s *Scheduler) run(ctx context.Context, w *watch) (tasklet.ID, error) {
	done := ctx.Done()
	var spins uint
	s.fireTimers()
	for {
		if s.inboxN.Load() != 0 {
			s.drainInbox()
		}
		if len(s.failed) > 0 {
			if err := s.failures(); err != nil {
				return 0, err
			}
		}
		if s.runq.drained() {
			if err := s.idle(ctx); err != nil {
				return 0, err
			}
			if s.runq.drained() {
				return 0, s.idleResult()
			}
			continue
		}
		spins++
		if spins&255 == 0 {
			if done != nil {
				select {
				case <-done:
					return 0, ctx.Err()
				default:
				}
			}
			if s.vclock == nil {
				s.fireTimers()
			}
		}
		if s.ckpt.fn != nil {
			if err := s.ckpt.maybe(s, spins); err != nil {
				return 0, err
			}
		}
		t := s.runq.popFront()
		if w == nil {
			s.burst(t)
			s.flushRemote()
			s.pollBusy()
			continue
		}
		if w.host != nil && t == w.host {
			w.hostRan = true
			return 0, nil
		}
		s.exec(t, w)
		s.flushRemote()
		s.pollBusy()
		if w.victim != nil {
			v := w.victim
			w.victim = nil
			return v.ID(), s.failures()
		}
		if w.pending && w.soft {
			return 0, s.failures()
		}
	}
}

// idle waits for something to run: it fires timers (jumping a virtual
// clock), or waits for posted input while the scheduler is held. It returns
// with the run queue still empty when nothing more can happen.
func (s *Scheduler) idle(ctx context.Context) error {
	s.runq.release() // every tasklet waits: keep no room for them all in the run queue
	for s.runq.drained() {
		if s.inboxN.Load() != 0 {
			s.drainInbox()
			continue
		}
		if s.vclock != nil && s.jump() {
			continue
		}
		at, ok := s.nextTimer()
		s.flushRemote() // before waiting, and before Run ends for want of work
		if !ok && s.holds.Load() == 0 {
			return nil
		}
		var d time.Duration
		if ok {
			if d = at - s.clock.Now(); d <= 0 {
				s.fireTimers()
				continue
			}
		}
		if s.pollIdle() {
			if ctx.Err() != nil { // a spin notices the end of the run too
				return ctx.Err()
			}
			continue
		}
		var timeout <-chan time.Time
		var tm *time.Timer
		if ok {
			// Stopped below, not deferred: this loop can go round once per
			// posted item while the scheduler waits.
			tm = time.NewTimer(d)
			timeout = tm.C
		}
		select {
		case <-ctx.Done():
			if tm != nil {
				tm.Stop()
			}
			return ctx.Err()
		case <-s.wake:
		case <-timeout:
			s.fireTimers()
		}
		if tm != nil {
			tm.Stop()
		}
	}
	return nil
}

func (s *Scheduler) idleResult() error {
	if err := s.failures(); err != nil {
		return err
	}
	var blocked []Waiting
	s.tasks.each(func(t *rec) {
		if t.State() == tasklet.Blocked {
			blocked = append(blocked, s.waiting(t))
		}
	})
	if len(blocked) > 0 {
		return &DeadlockError{Blocked: blocked}
	}
	return nil
}

// Tick runs one round in which each runnable tasklet gets at most one step:
// the step of a game loop. It first fires the timers that are due on the
// clock and takes posted input. Tasklets woken during the round run in it
// if they have not stepped yet. It returns the failures of the round when no
// error handler is set.
func (s *Scheduler) Tick() error {
	s.running++
	defer s.endRun()
	s.tick++
	if s.tick == 0 {
		s.tick = 1
	}
	if s.inboxN.Load() != 0 {
		s.drainInbox()
	}
	s.fireTimers()
	from := len(s.ticked) // a Tick inside a step leaves the outer round's marks
	for s.tickSafe() {
	}
	for i, t := range s.ticked[from:] {
		t.SetMark(false)
		s.ticked[from+i] = nil
	}
	s.ticked = s.ticked[:from]
	for i, t := range s.later {
		s.runq.pushBack(t)
		s.later[i] = nil
	}
	s.later = s.later[:0]
	if s.onError != nil {
		s.failures() // the handler sees the round's failures before a checkpoint of it
	}
	if s.ckpt.fn != nil {
		if err := s.ckpt.maybe(s, 0); err != nil {
			return err
		}
	}
	return s.failures()
}

// tickSafe runs the rest of the round; it reports true when a step
// panicked and the round must go on.
func (s *Scheduler) tickSafe() (panicked bool) {
	defer s.recoverStep(&panicked)
	for !s.runq.drained() {
		t := s.runq.popFront()
		if t.Marked() {
			s.later = append(s.later, t)
			continue
		}
		t.SetMark(true)
		s.ticked = append(s.ticked, t)
		s.exec(t, &tickWatch)
		if s.inboxN.Load() != 0 {
			s.drainInbox()
		}
	}
	return false
}

// tickWatch marks an exec inside Tick: one step, then the tasklet yields.
var tickWatch = watch{slice: -1, total: -1}

// exec runs t under a watchdog (RunBudget, or Tick's one step) until it
// switches out or the budget interrupts it.
func (s *Scheduler) exec(t *rec, w *watch) {
	s.switches++
	if s.onSchedule != nil {
		s.switchHook(s.prev, t.ID())
	}
	s.current = t
	for run := 0; ; {
		if w.slice < 0 { // Tick: one step only
			if run == 1 {
				s.runq.pushBack(t)
				break
			}
		} else if s.spent(t, w, run) {
			break
		}
		op, unread := t.Step()
		s.steps++
		run++
		if w.total > 0 {
			w.total--
		}
		s.touch(t)
		if unread != nil {
			s.unread(t, unread)
			break
		}
		cont := s.apply(t, op)
		s.frontNext() // only a plain Run switches directly
		if len(s.immediate) != 0 {
			if cont {
				s.runq.pushFront(t)
			}
			s.queueImmediate()
			break
		}
		if !cont {
			break
		}
	}
	s.current = nil
	s.prev = t.ID()
}

// unread ends t, whose step left a delivered error unread: an uncaught
// exception.
func (s *Scheduler) unread(t *rec, err error) {
	s.finish(t, err)
	if len(s.immediate) != 0 {
		s.queueImmediate()
	}
}

// frontNext puts the tasklet chosen to run next at the front of the run
// queue, where every other path expects it.
func (s *Scheduler) frontNext() {
	if s.next != nil {
		s.runq.pushFront(s.next)
		s.next = nil
	}
}

// queueImmediate puts the tasklets thrown into immediately at the front of
// the run queue, the first thrown first.
func (s *Scheduler) queueImmediate() {
	for i := len(s.immediate) - 1; i >= 0; i-- {
		s.runq.pushFront(s.immediate[i])
		s.immediate[i] = nil
	}
	s.immediate = s.immediate[:0]
}

// spent applies the watchdog before a step and reports whether t was
// interrupted. In hard mode the condition is taken afresh at every switch:
// an interrupt deferred while the last tasklet was atomic belongs to that
// tasklet's timeslice, not to the next one (a spent Total budget stays spent).
func (s *Scheduler) spent(t *rec, w *watch, run int) bool {
	if !w.pending || (run == 0 && !w.soft) {
		w.pending = w.total == 0 || (w.slice > 0 && run >= w.slice)
		if !w.pending {
			return false
		}
	}
	if w.soft {
		if run == 0 { // at a switch: stop before t runs
			s.runq.pushFront(t)
			return true
		}
		return false
	}
	if t.Atomic() {
		return false
	}
	w.pending = false
	t.SetState(tasklet.Paused)
	s.paused++
	s.touch(t)
	w.victim = t
	return true
}

// apply carries out the Op a step returned and reports whether t keeps
// running without a switch.
func (s *Scheduler) apply(t *rec, op tasklet.Op) bool {
	switch op.Kind() {
	case tasklet.OpContinue:
		return true
	case tasklet.OpYield:
		if s.runq.room() {
			s.runq.storeBack(t)
		} else {
			s.runq.pushBack(t)
		}
		return false
	case tasklet.OpRecv:
		return s.opRecv(t, op.Chan())
	case tasklet.OpSend:
		return s.opSend(t, op.Chan(), op.Value())
	case tasklet.OpSendErr:
		return s.opSend(t, op.Chan(), bomb(op.Err()))
	case tasklet.OpSelect:
		return s.opSelect(t)
	case tasklet.OpSleep:
		s.sleep(t, op.Duration())
		return false
	case tasklet.OpPause:
		t.SetState(tasklet.Paused)
		s.paused++
		if s.onPause != nil {
			s.onPause(t.ID())
		}
		return false
	case tasklet.OpExit:
		s.finish(t, nil)
		return false
	case tasklet.OpFail:
		err := op.Err()
		if err == nil {
			err = errors.New("Fail(nil)")
		}
		s.finish(t, fmt.Errorf("%w: %w", ErrTaskletFailed, err))
		return false
	}
	s.finish(t, fmt.Errorf("%w: unknown op %v", ErrTaskletFailed, op.Kind()))
	return false
}

// finish ends t. A kill nobody handled ends it quietly; any other error is
// reported.
func (s *Scheduler) finish(t *rec, err error) {
	t.SetState(tasklet.Dead)
	s.tasks.del(uint64(t.ID()))
	if s.track {
		s.deadT = append(s.deadT, t.ID())
	}
	if err != nil && !errors.Is(err, tasklet.ErrKilled) {
		var te *TaskletError
		if !errors.As(err, &te) {
			te = &TaskletError{ID: t.ID(), Kind: s.KindOf(t.Behavior()), Step: t.Steps(), Err: err}
		}
		s.report(te)
	}
	s.recycle(t)
}

// report records a failure. It never calls the error handler: report runs
// in the middle of operations (a step's Fail, a Close waking waiters), and a
// handler that panicked there would leave them half done. failures hands
// the records over between steps.
func (s *Scheduler) report(err error) {
	s.failed = append(s.failed, err)
}

// failures hands the recorded failures to the error handler, one call each,
// and returns nil; without a handler it returns them (joined). It runs only
// between steps, with nothing half done, so a panicking handler leaves the
// world consistent: its panic goes up through Run (Stackless: an error
// raised by the error handler goes to the main tasklet), and the failures
// not yet handed over wait for the next call.
func (s *Scheduler) failures() error {
	if s.onError == nil {
		return s.takeFailed()
	}
	for len(s.failed) > 0 {
		err := s.failed[0]
		s.failed[0] = nil
		s.failed = s.failed[1:]
		s.onError(err)
	}
	s.failed = nil
	return nil
}

// settle hands failures to the error handler at the end of a host call
// made outside any run (Close, PostLocal, Drain, RemoteOp, Recv, Send), so
// the handler sees them before the call returns, as it would have had they
// happened in a run, and a snapshot taken next does not leave them behind.
// Inside a run or a step they wait for the loop's next safe point. Without
// a handler they wait for the next Run, RunBudget or Tick to return them.
func (s *Scheduler) settle() {
	if len(s.failed) != 0 && s.onError != nil && s.running == 0 && s.current == nil {
		s.failures()
	}
}

// switchHook calls the schedule hook. A panic in it is reported like a
// tasklet failure (a *HookError) and the switch goes on, as Stackless writes
// an error of its schedule callback out as unraisable and switches anyway:
// the tasklet about to run is never lost, and the hook's panic never ends a
// tasklet that did nothing wrong.
func (s *Scheduler) switchHook(prev, next tasklet.ID) {
	defer func() {
		if r := recover(); r != nil {
			s.report(&HookError{Hook: "schedule", Prev: prev, Next: next, Panic: r, Stack: string(debug.Stack())})
		}
	}()
	s.onSchedule(prev, next)
}

func (s *Scheduler) takeFailed() error {
	if len(s.failed) == 0 {
		return nil
	}
	err := errors.Join(s.failed...)
	if len(s.failed) == 1 {
		err = s.failed[0]
	}
	s.failed = nil
	return err
}
