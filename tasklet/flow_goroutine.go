package tasklet

import (
	"runtime"
	"strings"
	"sync"
)

// Unlowered mode: the flow function runs on a goroutine of its own, and the
// scheduler's goroutine and the flow's take turns, so exactly one of them
// runs at a time. Each Step hands the step's T to the flow goroutine and
// waits for the Op of its next blocking call; the blocking call waits for
// the next Step. The channels order every access to T.

// Goroutine returns a Behavior that runs fn, unlowered, one step per
// blocking call. Returning nil exits the tasklet, an error fails it, a panic
// is the step's panic. It is slow (two goroutine switches per step) and
// cannot be saved; it exists for debugging flows and for testing generated
// code against the function it came from. A tasklet that ends while its
// flow waits (an error nobody read, a scheduler dropped) leaves the
// goroutine parked for good, as a goroutine nobody resumes: letting it go
// would run the flow's deferred calls after the tasklet ended, off the
// scheduler's goroutine, where the lowered code runs none.
func Goroutine(fn func(t *Flow) error) Behavior {
	return &GoFlow{s: &goState{fn: fn, resume: make(chan *T), ops: make(chan goOp)}}
}

// GoFlow is the Behavior [Goroutine] returns.
type GoFlow struct{ s *goState }

type goState struct {
	fn      func(*Flow) error
	started bool
	resume  chan *T
	ops     chan goOp
}

type goOp struct {
	op       Op
	panicked bool
	pv       any
}

// Step runs the flow to its next blocking call.
func (b *GoFlow) Step(t *T) Op {
	s := b.s
	if !s.started {
		s.started = true
		go s.run(t)
	} else {
		s.resume <- t
	}
	r := <-s.ops
	if r.panicked {
		panic(r.pv)
	}
	return r.op
}

func (s *goState) run(t *T) {
	f := &Flow{t: t, g: s}
	var out goOp
	func() {
		defer func() {
			if r := recover(); r != nil {
				out = goOp{panicked: true, pv: r}
			}
		}()
		if err := s.fn(f); err != nil {
			out.op = f.t.Fail(err)
		} else {
			out.op = f.t.Exit()
		}
	}()
	s.ops <- out
}

// suspend hands op to the waiting Step and waits for the next one.
func (s *goState) suspend(f *Flow, op Op) {
	s.ops <- goOp{op: op}
	f.t = <-s.resume
}

// err reads the delivered error, unless the call being resumed drops its
// error result: then it stays unread and ends the tasklet, as in lowered code.
func (s *goState) err(f *Flow) error {
	if callerDrops() {
		return nil
	}
	return f.t.Err()
}

type dropSite struct {
	fn   string
	line int
}

var drops struct {
	sync.RWMutex
	m map[dropSite]bool
}

// RegisterDropped records the lines of fn (a function's full name, as
// runtime.Frame.Function has it) whose blocking Flow call drops its error
// result. Generated code registers them at init, so unlowered runs leave
// those errors unread as the lowered code does; without it, an unlowered
// run reads every delivered error.
func RegisterDropped(fn string, lines ...int) {
	drops.Lock()
	defer drops.Unlock()
	if drops.m == nil {
		drops.m = map[dropSite]bool{}
	}
	for _, l := range lines {
		drops.m[dropSite{fn, l}] = true
	}
}

const thisPackage = "github.com/stackless-go/stackless/tasklet."

// callerDrops reports whether the code that called the blocking method
// (the first frame outside this package) drops its error.
func callerDrops() bool {
	drops.RLock()
	n := len(drops.m)
	drops.RUnlock()
	if n == 0 {
		return false
	}
	var pcs [16]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		fr, more := frames.Next()
		if !strings.HasPrefix(fr.Function, thisPackage) {
			drops.RLock()
			defer drops.RUnlock()
			return drops.m[dropSite{fr.Function, fr.Line}]
		}
		if !more {
			return false
		}
	}
}
