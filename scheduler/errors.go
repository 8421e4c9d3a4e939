package scheduler

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Sentinel errors; test with errors.Is.
var (
	ErrDeadlock       = errors.New("deadlock")
	ErrNoTasklet      = errors.New("no such tasklet")
	ErrNoChannel      = errors.New("no such channel")
	ErrBlocked        = errors.New("tasklet is blocked on a channel")
	ErrDead           = errors.New("tasklet is dead")
	ErrCurrent        = errors.New("tasklet is running")
	ErrRemoteChannel  = errors.New("channel lives on another node and no remote link is configured")
	ErrTaskletFailed  = errors.New("tasklet failed")
	ErrTaskletPanic   = errors.New("tasklet panicked")
	ErrInvalidRestore = errors.New("invalid world")
	ErrHookPanic      = errors.New("hook panicked")
	ErrRunning        = errors.New("the scheduler is running")
	ErrBadCase        = errors.New("select case of no known direction")
)

// HookError is a panic in the schedule hook. The scheduler reports it like
// a tasklet failure (to the error handler, or as Run's error) and carries
// on with the switch, so the tasklet about to run is neither lost nor
// blamed.
type HookError struct {
	Hook       string     // "schedule"
	Prev, Next tasklet.ID // the switch the hook was told about
	Panic      any        // the recovered value
	Stack      string     // the panicking goroutine's stack
}

func (e *HookError) Error() string {
	return fmt.Sprintf("scheduler: the %s hook panicked at the switch %v -> %v: %v (the switch went on; fix the hook)", e.Hook, e.Prev, e.Next, e.Panic)
}

func (e *HookError) Unwrap() error { return ErrHookPanic }

// TaskletError is a tasklet's end by failure: a Fail op, an error it did not
// handle, or a panic in its step. The scheduler reports it to the error
// handler, or returns it from Run.
type TaskletError struct {
	ID    tasklet.ID
	Kind  string // behavior type
	Step  uint64 // the step that failed (1 = first)
	Err   error  // what went wrong
	Panic any    // the recovered value, when the step panicked
	Stack string // the panicking goroutine's stack
}

func (e *TaskletError) Error() string {
	if e.Panic != nil {
		return fmt.Sprintf("tasklet %v (kind %s) panicked in step %d: %v", e.ID, e.Kind, e.Step, e.Panic)
	}
	return fmt.Sprintf("tasklet %v (kind %s) failed in step %d: %v", e.ID, e.Kind, e.Step, e.Err)
}

func (e *TaskletError) Unwrap() error { return e.Err }

// Waiting describes one blocked tasklet in a DeadlockError.
type Waiting struct {
	ID    tasklet.ID
	Kind  string
	Op    string // "receiving", "sending", "selecting"
	Chans []channel.ID
}

func (w Waiting) String() string {
	chans := make([]string, len(w.Chans))
	for i, c := range w.Chans {
		chans[i] = c.String()
	}
	return fmt.Sprintf("%v (%s) %s on %s", w.ID, w.Kind, w.Op, strings.Join(chans, ", "))
}

// DeadlockError is returned by Run when tasklets are blocked and nothing can
// ever wake them: nothing is runnable, no timer is pending and no external
// source holds the scheduler.
type DeadlockError struct{ Blocked []Waiting }

func (e *DeadlockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deadlock: %d tasklet(s) blocked forever: ", len(e.Blocked))
	for i, w := range e.Blocked {
		if i == 8 {
			fmt.Fprintf(&b, "; and %d more", len(e.Blocked)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(w.String())
	}
	b.WriteString(" (send to or close those channels, or Hold the scheduler while outside input can arrive)")
	return b.String()
}

func (e *DeadlockError) Unwrap() error { return ErrDeadlock }
