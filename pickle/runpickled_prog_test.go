package pickle_test

// Prog, the interpreter of the run_pickled suite's random programs, and the
// other behaviors of its worlds (runpickled_test.go).

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// Instruction codes of Prog.
const (
	opSend     uint8 = iota // send valueOf(VKind, Val) on Ch
	opRecv                  // receive from Ch
	opSelect                // recv Ch | send Ch2 | timeout D (if D >= 0) | default (if Flag)
	opSleep                 // sleep D
	opYield                 // go to the back of the run queue
	opContinue              // keep running (a watchdog timeslice can interrupt)
	opSpawn                 // spawn a Prog running Sub (Flag: it survives kills)
	opClose                 // close Ch
	opSendErr               // send an error on Ch (odd Val: the registered sentinel)
	opThrow                 // throw into Target (odd Val: the sentinel, else a kill; Flag: pending)
	opInsert                // insert Target
	opPause                 // pause itself until someone inserts it
	opFlag                  // toggle atomic (Flag: the block trap)
	opFail                  // end with an error
	opPanic                 // panic in the step
)

var opNames = [...]string{"send", "recv", "select", "sleep", "yield", "continue", "spawn", "close",
	"senderr", "throw", "insert", "pause", "flag", "fail", "panic"}

// Instr is one instruction of a Prog.
type Instr struct {
	Op      uint8
	Ch, Ch2 channel.ID
	VKind   uint8
	Val     int64
	D       time.Duration
	Target  tasklet.ID
	Flag    bool
	Sub     []Instr
}

// errSentinel is registered with the registries of these tests, so it must
// still be errSentinel (errors.Is) after a snapshot.
var errSentinel = errors.New("sentinel from a test program")

// Prog interprets Code one instruction per suspension. Everything it sees
// goes to Log, and Log goes to Sink when the program ends, so a world's
// final state holds the whole observable history of the run.
type Prog struct {
	Name    string
	Code    []Instr
	PC      int
	Wait    bool // the instruction at PC was issued; this step sees its result
	Strict  bool // never reads delivered errors, so they end it
	Tough   bool // survives kills
	Flushed bool // the log went to Sink
	Sink    channel.ID
	Log     []string
}

func (p *Prog) Step(t *tasklet.T) tasklet.Op {
	if p.Flushed {
		return t.Exit()
	}
	var err error
	if !p.Strict {
		err = t.Err()
	}
	if p.Wait {
		p.Wait = false
		p.note("pc%d %s: %s", p.PC, p.opName(), result(t, err))
		p.PC++
	} else if err != nil {
		p.note("pc%d interrupted: %s", p.PC, errText(err))
	}
	if errors.Is(err, tasklet.ErrKilled) && !p.Tough {
		return p.flush(t)
	}
	if p.PC < 0 || p.PC >= len(p.Code) {
		return p.flush(t)
	}
	in := p.Code[p.PC]
	switch in.Op {
	case opSend:
		p.Wait = true
		return t.Send(in.Ch, valueOf(in.VKind, in.Val))
	case opRecv:
		p.Wait = true
		return t.Recv(in.Ch)
	case opSelect:
		cases := []tasklet.Case{tasklet.RecvCase(in.Ch), tasklet.SendCase(in.Ch2, valueOf(in.VKind, in.Val))}
		if in.D >= 0 {
			cases = append(cases, tasklet.TimeoutCase(in.D))
		}
		if in.Flag {
			cases = append(cases, tasklet.DefaultCase())
		}
		p.Wait = true
		return t.Select(cases...)
	case opSleep:
		p.Wait = true
		return t.Sleep(in.D)
	case opYield:
		p.Wait = true
		return t.Yield()
	case opSpawn:
		id := t.Spawn(&Prog{Name: fmt.Sprintf("%s.%d", p.Name, p.PC), Code: in.Sub, Sink: p.Sink, Tough: in.Flag})
		p.note("pc%d spawned %v", p.PC, id)
	case opClose:
		p.note("pc%d close %v: %v", p.PC, in.Ch, t.Close(in.Ch))
	case opSendErr:
		p.Wait = true
		return t.SendErr(in.Ch, progError(p.Name, in.Val))
	case opThrow:
		e := tasklet.ErrKilled
		if in.Val%2 != 0 {
			e = errSentinel
		}
		p.note("pc%d throw into %v: %v", p.PC, in.Target, t.Host().Throw(in.Target, e, in.Flag))
	case opInsert:
		p.note("pc%d insert %v: %v", p.PC, in.Target, t.Host().Insert(in.Target))
	case opPause:
		p.PC++
		return t.Pause()
	case opFlag:
		if in.Flag {
			t.SetBlockTrap(!t.BlockTrap())
		} else {
			t.SetAtomic(!t.Atomic())
		}
		p.note("pc%d atomic %t blocktrap %t", p.PC, t.Atomic(), t.BlockTrap())
	case opFail:
		p.PC++
		return t.Fail(fmt.Errorf("%s gives up at pc %d", p.Name, p.PC-1))
	case opPanic:
		p.PC++
		panic(fmt.Sprintf("%s panics at pc %d", p.Name, p.PC-1))
	}
	p.PC++
	return t.Continue()
}

func (p *Prog) note(format string, a ...any) {
	p.Log = append(p.Log, fmt.Sprintf(format, a...))
}

func (p *Prog) opName() string {
	if p.PC < 0 || p.PC >= len(p.Code) || int(p.Code[p.PC].Op) >= len(opNames) {
		return "?"
	}
	return opNames[p.Code[p.PC].Op]
}

// flush sends the log to the sink; the next step exits.
func (p *Prog) flush(t *tasklet.T) tasklet.Op {
	p.Flushed = true
	return t.Send(p.Sink, strings.Join(append([]string{p.Name}, p.Log...), "\n"))
}

func progError(name string, v int64) error {
	if v%2 != 0 {
		return errSentinel
	}
	return fmt.Errorf("bomb %d from %s", v, name)
}

func result(t *tasklet.T, err error) string {
	if err != nil {
		return "err " + errText(err)
	}
	return fmt.Sprintf("chosen %d value %s at %v", t.Chosen(), fmtValue(t.Value()), t.Now())
}

func errText(err error) string {
	return fmt.Sprintf("%v (killed %t, closed %t, sentinel %t)", err,
		errors.Is(err, tasklet.ErrKilled), errors.Is(err, channel.ErrClosed), errors.Is(err, errSentinel))
}

// valueOf makes a value of one of the types a snapshot must keep.
func valueOf(kind uint8, x int64) any {
	switch kind % 15 {
	case 0:
		return int(x)
	case 1:
		return x
	case 2:
		return fmt.Sprintf("s%d", x)
	case 3:
		return float64(x) / 4
	case 4:
		return x%2 == 0
	case 5:
		return Point{int(x), int(-x)}
	case 6:
		return &Point{int(x), 2}
	case 7:
		return []int{int(x), int(x) + 1}
	case 8:
		return map[string]int{"k": int(x), "l": 1}
	case 9:
		return time.Duration(x) * time.Millisecond
	case 10:
		return uint8(x)
	case 11:
		return channel.ID(x)
	case 12:
		return []byte{byte(x), 1}
	case 13:
		return time.Unix(x, 0)
	}
	return nil
}

// fmtValue prints a value with its type, the same before and after a
// snapshot (no pointers, times in UTC).
func fmtValue(v any) string {
	switch x := v.(type) {
	case *Point:
		return fmt.Sprintf("*Point%v", *x)
	case time.Time:
		return "time:" + x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// Relay forwards up to Max values from In to Out, waiting at most D for
// each and giving up after Patience timeouts.
type Relay struct {
	In, Out, Sink channel.ID
	Max, Count    int
	Patience      int
	Timeouts      int
	D             time.Duration
	Stage         int
	Log           []string
}

func (r *Relay) Step(t *tasklet.T) tasklet.Op {
	err := t.Err()
	switch r.Stage {
	case 0:
		r.Stage = 1
		return t.Select(tasklet.RecvCase(r.In), tasklet.TimeoutCase(r.D))
	case 1:
		switch {
		case err != nil:
			r.Log = append(r.Log, "recv "+errText(err))
			return r.flush(t)
		case t.Chosen() == 1:
			r.Timeouts++
			r.Log = append(r.Log, fmt.Sprintf("timeout at %v", t.Now()))
			if r.Timeouts >= r.Patience {
				return r.flush(t)
			}
			r.Stage = 0
			return t.Yield()
		}
		r.Count++
		r.Log = append(r.Log, "got "+fmtValue(t.Value()))
		r.Stage = 2
		return t.Send(r.Out, t.Value())
	case 2:
		if err != nil {
			r.Log = append(r.Log, "send "+errText(err))
			return r.flush(t)
		}
		if r.Count >= r.Max {
			return r.flush(t)
		}
		r.Stage = 0
		return t.Continue()
	}
	return t.Exit()
}

func (r *Relay) flush(t *tasklet.T) tasklet.Op {
	r.Stage = 3
	return t.Send(r.Sink, strings.Join(append([]string{"relay"}, r.Log...), "\n"))
}

// Burst is a kind registered as a struct, not a pointer: its Step cannot
// change it, so it keeps its place in t.Steps(), which snapshots keep.
type Burst struct {
	Ch channel.ID
	N  uint64
}

func (b Burst) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil || t.Steps() > b.N {
		return t.Exit()
	}
	return t.Send(b.Ch, t.Steps())
}

// progRegistry knows every kind and value type of these tests, including
// the example behaviors.
func progRegistry(t testing.TB) *pickle.Registry {
	r, err := newProgRegistry()
	require.NoError(t, err)
	return r
}

func newProgRegistry() (*pickle.Registry, error) {
	r := pickle.NewRegistry()
	err := errors.Join(
		r.Register("prog", 1, &Prog{}),
		r.Register("relay", 1, &Relay{}),
		r.Register("burst", 1, Burst{}),
		r.Register("producer", 1, &Producer{}),
		r.Register("worker", 1, &Worker{}),
		r.Register("pingpong.ping", 1, &game.PingTasklet{}),
		r.Register("pingpong.pong", 1, &game.PongTasklet{}),
		pickle.RegisterValue[game.Score](r, "pingpong.score"),
		r.Register("guard", 2, &GuardV2{}, pickle.Upgrade(1, func(o *GuardV1) (tasklet.Behavior, error) {
			return &GuardV2{Health: o.HP * 10}, nil
		})),
		testworld.Register(r),
		pickle.RegisterValue[Point](r, "point"),
	)
	r.RegisterError("test.sentinel", errSentinel)
	return r, err
}
