package pickle_test

// The worlds of the run_pickled suite (runpickled_test.go): random programs
// for Prog from a seed, and the example behaviors.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// gen makes random programs. IDs are predictable: tasklets spawned at build
// time get 1..ntask in order, children come after.
type gen struct {
	r      *rand.Rand
	chans  []channel.ID
	ntask  int
	paused []tasklet.ID
}

func (g *gen) ch() channel.ID            { return g.chans[g.r.IntN(len(g.chans))] }
func (g *gen) dur() time.Duration        { return time.Duration(g.r.IntN(6)-1) * time.Millisecond }
func (g *gen) value() (uint8, int64)     { return uint8(g.r.IntN(15)), int64(g.r.IntN(200) - 50) }
func (g *gen) target() tasklet.ID        { return tasklet.ID(1 + g.r.IntN(g.ntask+3)) }
func (g *gen) code(n, depth int) []Instr { return slicesOf(n, func() Instr { return g.instr(depth) }) }

func slicesOf[T any](n int, f func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// instr draws one instruction. Durations include zero and negative ones:
// timers already due when a run stops must fire as they would have.
func (g *gen) instr(depth int) Instr {
	r := g.r
	in := Instr{Ch: g.ch()}
	in.VKind, in.Val = g.value()
	switch w := r.IntN(100); {
	case w < 20:
		in.Op = opSend
	case w < 38:
		in.Op = opRecv
	case w < 48:
		in.Op, in.Ch2, in.D = opSelect, g.ch(), -1
		if r.IntN(2) == 0 {
			in.D = max(g.dur(), 0)
		}
		in.Flag = r.IntN(6) == 0
	case w < 54:
		in.Op, in.D = opSleep, g.dur()
	case w < 60:
		in.Op = opYield
	case w < 68:
		in.Op = opContinue
	case w < 72 && depth < 2:
		in.Op, in.Flag = opSpawn, r.IntN(2) == 0
		in.Sub = g.code(1+r.IntN(4), depth+1)
	case w < 75:
		in.Op = opClose
	case w < 80:
		in.Op = opSendErr
	case w < 85:
		in.Op, in.Target, in.Flag = opThrow, g.target(), r.IntN(2) == 0
	case w < 89:
		in.Op, in.Target = opInsert, g.target()
		if len(g.paused) > 0 && r.IntN(3) > 0 {
			in.Target = g.paused[r.IntN(len(g.paused))]
		}
	case w < 91:
		in.Op = opPause
	case w < 95:
		in.Op, in.Flag = opFlag, r.IntN(4) == 0
	case w < 97:
		in.Op = opFail
	case w < 98:
		in.Op = opPanic
	default:
		in.Op = opYield
	}
	return in
}

// pair gives about half of the sends a receive and half of the receives a
// send somewhere in the programs, so that programs get somewhere.
func (g *gen) pair(codes [][]Instr) {
	for i := range codes {
		for _, in := range slices.Clone(codes[i]) {
			if g.r.IntN(2) == 0 {
				continue
			}
			var c Instr
			switch in.Op {
			case opSend, opSendErr:
				c = Instr{Op: opRecv, Ch: in.Ch}
			case opRecv:
				c = Instr{Op: opSend, Ch: in.Ch}
				c.VKind, c.Val = g.value()
			default:
				continue
			}
			j := g.r.IntN(len(codes))
			at := g.r.IntN(len(codes[j]) + 1)
			codes[j] = slices.Insert(codes[j], at, c)
		}
	}
}

// buildRandom makes the world of a seed: the same seed gives the same world.
func buildRandom(seed uint64, opts ...scheduler.Option) *scheduler.Scheduler {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s := scheduler.New(opts...)
	g := &gen{r: r}
	for range 1 + r.IntN(4) {
		id := s.NewChannel([]int{0, 0, 0, 1, 2, 4}[r.IntN(6)])
		c := s.Channel(id)
		c.SetPreference(r.IntN(3) - 1)
		c.SetScheduleAll(r.IntN(10) == 0)
		g.chans = append(g.chans, id)
	}
	sink := s.NewChannel(1 << 12)
	nprog, npaused, nrelay, nburst := 1+r.IntN(5), r.IntN(2), r.IntN(2), r.IntN(2)
	g.ntask = nprog + npaused + nrelay + nburst
	for i := range npaused {
		g.paused = append(g.paused, tasklet.ID(nprog+i+1))
	}
	codes := slicesOf(nprog+npaused, func() []Instr { return g.code(2+r.IntN(10), 0) })
	g.pair(codes)
	for i, code := range codes {
		p := &Prog{Name: fmt.Sprint("p", i), Code: code, Sink: sink, Strict: r.IntN(12) == 0, Tough: r.IntN(4) == 0}
		if i < nprog {
			s.Spawn(p)
		} else {
			s.SpawnPaused(p)
		}
	}
	for range nrelay {
		s.Spawn(&Relay{In: g.ch(), Out: g.ch(), Sink: sink, Max: 1 + r.IntN(4), Patience: 1 + r.IntN(3), D: g.dur()})
	}
	for range nburst {
		s.Spawn(Burst{Ch: g.ch(), N: uint64(1 + r.IntN(4))})
	}
	for range r.IntN(3) { // values from outside: buffered, or queued senders without a tasklet
		k, v := g.value()
		s.PostLocal(g.ch(), valueOf(k, v))
	}
	if r.IntN(8) == 0 {
		s.PostLocal(g.chans[0], channel.Bomb{Err: progError("outside", int64(r.IntN(2)))})
		_ = s.Close(g.ch())
	}
	return s
}

// builder makes a fresh copy of a world with the given options.
type builder func(opts ...scheduler.Option) *scheduler.Scheduler

// exampleWorlds are the example behaviors of the repository.
var exampleWorlds = map[string]builder{
	"pipeline": func(opts ...scheduler.Option) *scheduler.Scheduler {
		s := scheduler.New(opts...)
		testworld.Pipeline(s, 30, 3, 2)
		return s
	},
	"entities": func(opts ...scheduler.Option) *scheduler.Scheduler {
		s := scheduler.New(opts...)
		chans := testworld.Entities(s, 4)
		s.PostLocal(chans[1], 7)
		s.PostLocal(chans[1], "x")
		return s
	},
	"pingpong": func(opts ...scheduler.Option) *scheduler.Scheduler {
		s := scheduler.New(opts...)
		game.Setup(s, 7)
		return s
	},
	"producer-workers": func(opts ...scheduler.Option) *scheduler.Scheduler {
		s := scheduler.New(opts...)
		in, res := s.NewChannel(0), s.NewChannel(200)
		s.Spawn(&Producer{Out: in, N: 25})
		for i := range 3 {
			s.Spawn(&Worker{Name: fmt.Sprintf("w%d", i), In: in, Res: res})
		}
		return s
	},
}
