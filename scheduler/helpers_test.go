package scheduler_test

// Helpers shared by the conformance, property and restore tests.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// fn is a behavior made of a closure, for tests that never snapshot it.
type fn func(t *tasklet.T) tasklet.Op

func (f fn) Step(t *tasklet.T) tasklet.Op { return f(t) }

// steps is a behavior that runs the i-th function at its i-th step and
// exits after the last one.
func steps(fs ...func(t *tasklet.T) tasklet.Op) tasklet.Behavior {
	i := 0
	return fn(func(t *tasklet.T) tasklet.Op {
		if i >= len(fs) {
			return t.Exit()
		}
		f := fs[i]
		i++
		return f(t)
	})
}

// logger is the shared log behaviors append to, to record the order in
// which tasklets run.
type logger struct{ entries []string }

func (l *logger) add(format string, a ...any) {
	l.entries = append(l.entries, fmt.Sprintf(format, a...))
}

// logStep returns a step function that logs entry and then returns op.
func logStep(l *logger, entry string, op func(t *tasklet.T) tasklet.Op) func(t *tasklet.T) tasklet.Op {
	return func(t *tasklet.T) tasklet.Op {
		l.add("%s", entry)
		return op(t)
	}
}

func yield(t *tasklet.T) tasklet.Op { return t.Yield() }
func exit(t *tasklet.T) tasklet.Op  { return t.Exit() }

// ---------------------------------------------------------------------------
// prog: a behavior whose whole state is plain data (a straight-line program
// and a program counter), so worlds holding it can be copied and restored.

type instrKind uint8

const (
	iSend   instrKind = iota // send Val on Ch
	iRecv                    // receive from Ch
	iSelect                  // select over Cases
	iYield                   // yield
	iSleep                   // sleep D
	iSpawn                   // spawn a prog running Child (no suspension)
	iClose                   // close Ch (no suspension)
	iPause                   // pause until someone inserts the tasklet
	iBusy                    // return Continue (a busy step)
)

type instr struct {
	Kind  instrKind
	Ch    channel.ID
	Val   int
	Cases []tasklet.Case
	D     time.Duration
	Child []instr
}

func (in instr) String() string {
	switch in.Kind {
	case iSend:
		return fmt.Sprintf("send %v %d", in.Ch, in.Val)
	case iRecv:
		return fmt.Sprintf("recv %v", in.Ch)
	case iSelect:
		return fmt.Sprintf("select %v", in.Cases)
	case iYield:
		return "yield"
	case iSleep:
		return fmt.Sprintf("sleep %v", in.D)
	case iSpawn:
		return fmt.Sprintf("spawn(%d instrs)", len(in.Child))
	case iClose:
		return fmt.Sprintf("close %v", in.Ch)
	case iPause:
		return "pause"
	case iBusy:
		return "busy"
	}
	return "?"
}

// record is what a run of progs observed: the event log and the values
// sent (the sender saw success), rejected (the sender saw ErrClosed) and
// received.
type record struct {
	Log      []string
	Sent     []int
	Rejected []int
	Received []int
}

func (r *record) clone() *record {
	return &record{Log: slices.Clone(r.Log), Sent: slices.Clone(r.Sent),
		Rejected: slices.Clone(r.Rejected), Received: slices.Clone(r.Received)}
}

func (r *record) logf(t *tasklet.T, format string, a ...any) {
	r.Log = append(r.Log, fmt.Sprintf("%v@%v ", t.ID(), t.Now())+fmt.Sprintf(format, a...))
}

type prog struct {
	Code []instr
	PC   int
	Rec  *record
}

func (p *prog) Step(t *tasklet.T) tasklet.Op {
	err := t.Err() // always read: an unread error would end the tasklet
	if p.PC > 0 {
		p.outcome(t, p.Code[p.PC-1], err)
	}
	for p.PC < len(p.Code) {
		in := p.Code[p.PC]
		p.PC++
		switch in.Kind {
		case iSend:
			return t.Send(in.Ch, in.Val)
		case iRecv:
			return t.Recv(in.Ch)
		case iSelect:
			return t.Select(in.Cases...)
		case iYield:
			return t.Yield()
		case iSleep:
			return t.Sleep(in.D)
		case iPause:
			return t.Pause()
		case iBusy:
			return t.Continue()
		case iSpawn:
			id := t.Spawn(&prog{Code: in.Child, Rec: p.Rec})
			p.Rec.logf(t, "spawn %v", id)
		case iClose:
			p.Rec.logf(t, "close %v: %v", in.Ch, t.Close(in.Ch))
		}
	}
	p.Rec.logf(t, "exit")
	return t.Exit()
}

// outcome records how the suspension of in ended.
func (p *prog) outcome(t *tasklet.T, in instr, err error) {
	r := p.Rec
	switch in.Kind {
	case iSend:
		r.sendOutcome(t, in.Val, err)
	case iRecv:
		r.recvOutcome(t, in.Ch, err)
	case iSelect:
		i := t.Chosen()
		if i < 0 || i >= len(in.Cases) {
			r.logf(t, "select: chosen %d of %d, err %v", i, len(in.Cases), err)
			return
		}
		switch cs := in.Cases[i]; cs.Dir {
		case tasklet.DirRecv:
			r.logf(t, "select case %d:", i)
			r.recvOutcome(t, cs.Chan, err)
		case tasklet.DirSend:
			r.logf(t, "select case %d:", i)
			r.sendOutcome(t, cs.Value.(int), err)
		case tasklet.DirTimeout:
			r.logf(t, "select case %d: timeout", i)
		case tasklet.DirDefault:
			r.logf(t, "select case %d: default", i)
		}
	case iYield, iSleep, iPause:
		r.logf(t, "%v done", in)
	case iBusy:
	}
}

func (r *record) sendOutcome(t *tasklet.T, v int, err error) {
	switch {
	case err == nil:
		r.Sent = append(r.Sent, v)
		r.logf(t, "sent %d", v)
	case errors.Is(err, channel.ErrClosed):
		r.Rejected = append(r.Rejected, v)
		r.logf(t, "send %d: closed", v)
	default:
		r.logf(t, "send %d: %v", v, err)
	}
}

func (r *record) recvOutcome(t *tasklet.T, ch channel.ID, err error) {
	switch {
	case err == nil:
		v, ok := t.Value().(int)
		if !ok {
			r.logf(t, "recv %v: got %#v, not an int", ch, t.Value())
			return
		}
		r.Received = append(r.Received, v)
		r.logf(t, "recv %v: %d", ch, v)
	default:
		r.logf(t, "recv %v: %v", ch, err)
	}
}

// copyWorld returns a copy of w whose progs are copies writing to rec, so
// a scheduler restored from it runs independently of the original.
func copyWorld(w *scheduler.World, rec *record) *scheduler.World {
	c := *w
	c.Tasklets = slices.Clone(w.Tasklets)
	for i := range c.Tasklets {
		ts := &c.Tasklets[i]
		if p, ok := ts.Behavior.(*prog); ok {
			cp := *p
			cp.Rec = rec
			ts.Behavior = &cp
		}
		ts.Cases = slices.Clone(ts.Cases)
	}
	c.Channels = slices.Clone(w.Channels)
	for i := range c.Channels {
		cs := &c.Channels[i]
		cs.Buffer = slices.Clone(cs.Buffer)
		cs.Senders = slices.Clone(cs.Senders)
		cs.Receivers = slices.Clone(cs.Receivers)
	}
	c.RunQueue = slices.Clone(w.RunQueue)
	c.Timers = slices.Clone(w.Timers)
	return &c
}
