package pickle_test

// The run_pickled suite (after Stackless's test_pickle run_pickled): for many
// worlds, run k steps, snapshot, restore in a fresh scheduler, run to the
// end and compare with the run that was never interrupted, for several k and
// three ways of storing the snapshot. The worlds are the example behaviors
// and random programs of tasklets and channels interpreted by Prog below.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
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

// recorder keeps what a run shows outside its world: reported failures and
// every channel operation, in order. A restored copy continues the record
// of the run it was snapshotted from.
type recorder struct {
	Failures []string
	Events   []string
}

func (rc *recorder) options(reg *pickle.Registry) []scheduler.Option {
	return []scheduler.Option{
		scheduler.WithKindNames(reg.KindName),
		scheduler.WithErrorHandler(func(err error) { rc.Failures = append(rc.Failures, err.Error()) }),
		scheduler.WithChannelHook(func(e scheduler.ChannelEvent) { rc.Events = append(rc.Events, fmt.Sprint(e)) }),
	}
}

func (rc *recorder) clone() *recorder {
	return &recorder{Failures: slices.Clone(rc.Failures), Events: slices.Clone(rc.Events)}
}

// outcome is everything observable about a finished run.
type outcome struct {
	Err      string // Run's error: "" or a deadlock naming the blocked tasklets
	Failures []string
	Events   []string
	Victims  []tasklet.ID // tasklets the watchdog interrupted, in order
	World    *scheduler.World
}

func outcomeOf(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler, rc *recorder, err error, victims []tasklet.ID) outcome {
	t.Helper()
	// The final world goes through the format too, so that values and errors
	// compare the same way whichever run they come from.
	blob, e := reg.DumpWorld(s.World())
	require.NoError(t, e)
	w, e := reg.LoadWorld(blob)
	require.NoError(t, e)
	o := outcome{Failures: rc.Failures, Events: rc.Events, Victims: victims, World: w}
	if err != nil {
		require.ErrorIs(t, err, scheduler.ErrDeadlock, "the only error Run may return with an error handler set")
		o.Err = err.Error()
	}
	return o
}

func sameOutcome(t *testing.T, want, got outcome, what string) {
	t.Helper()
	assert.Equal(t, want.Err, got.Err, "%s: Run's result", what)
	assert.Equal(t, want.Failures, got.Failures, "%s: failures reported", what)
	if assert.Equal(t, len(want.Events), len(got.Events), "%s: number of channel operations", what) {
		assert.Equal(t, want.Events, got.Events, "%s: channel operations", what)
	}
	assert.Equal(t, want.Victims, got.Victims, "%s: watchdog victims", what)
	assert.Equal(t, want.World, got.World, "%s: final world", what)
}

// snapshotter stores a scheduler's world one way and reads it back.
type snapshotter struct {
	name string
	load func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World
}

var snapshotters = []snapshotter{
	{"DumpWorld", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		b, err := reg.DumpWorld(s.World())
		require.NoError(t, err)
		w, err := reg.LoadWorld(b)
		require.NoError(t, err)
		return w
	}},
	{"EncodeWorld", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		meta, recs, err := reg.EncodeWorld(s.World())
		require.NoError(t, err)
		slices.Reverse(recs) // DecodeWorld takes records in any order
		w, err := reg.DecodeWorld(meta, recs)
		require.NoError(t, err)
		return w
	}},
	{"store.SaveFile", func(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler) *scheduler.World {
		path := filepath.Join(t.TempDir(), "world.snap")
		require.NoError(t, store.SaveFile(path, reg, s))
		w, err := store.LoadFile(path, reg)
		require.NoError(t, err)
		return w
	}},
}

// restore restores a snapshot of s with a copy of its recorder.
func restore(t *testing.T, reg *pickle.Registry, s *scheduler.Scheduler, rc *recorder, via snapshotter) (*scheduler.Scheduler, *recorder) {
	t.Helper()
	w := via.load(t, reg, s)
	rc2 := rc.clone()
	s2, err := scheduler.Restore(w, rc2.options(reg)...)
	require.NoError(t, err)
	return s2, rc2
}

// sliceRun is the autoschedule loop of the Stackless watchdog docs: run
// with a timeslice of n steps, put the interrupted tasklet back at the end
// of the run queue, repeat until nothing was interrupted.
type sliceRun struct {
	s       *scheduler.Scheduler
	n       int
	victims []tasklet.ID
	pending tasklet.ID // the last victim, still paused
	err     error
	done    bool
}

func (r *sliceRun) next(t *testing.T) {
	if r.pending != 0 {
		require.NoError(t, r.s.Insert(r.pending))
		r.pending = 0
	}
	id, err := r.s.RunBudget(context.Background(), r.n, scheduler.Timeslice)
	if err != nil || id == 0 {
		r.err, r.done = err, true
		return
	}
	r.victims = append(r.victims, id)
	r.pending = id
}

// features counts what the snapshots held and how the runs ended, so the
// suite can check that its worlds cover what it claims to cover.
type features struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *features) add(name string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[name] += n
}

func (f *features) observe(w *scheduler.World) {
	count := func(name string, ok bool) {
		if ok {
			f.add(name, 1)
		}
	}
	for _, ts := range w.Tasklets {
		count("sleeping tasklet", ts.State == tasklet.Sleeping)
		count("paused tasklet", ts.State == tasklet.Paused)
		count("select waiter", ts.State == tasklet.Blocked && !ts.Plain)
		count("atomic or block-trap tasklet", ts.Flags != 0)
		count("delivered error not yet seen", ts.Err != nil)
	}
	for _, cs := range w.Channels {
		count("buffered value", len(cs.Buffer) > 0)
		count("closed channel", cs.Closed)
		count("blocked receiver", len(cs.Receivers) > 0)
		for _, sw := range cs.Senders {
			count("blocked sender holding a value", sw.Tasklet != 0 && sw.Value != nil)
			count("posted value without a tasklet", sw.Tasklet == 0)
		}
		for _, v := range append(slices.Clone(cs.Buffer), waiterValues(cs.Senders)...) {
			_, ok := v.(channel.Bomb)
			count("error in a channel", ok)
		}
	}
	for _, tm := range w.Timers {
		count("select timeout", tm.Case >= 0)
	}
}

func waiterValues(ws []scheduler.WaiterState) []any {
	out := make([]any, len(ws))
	for i, w := range ws {
		out[i] = w.Value
	}
	return out
}

func (f *features) observeEnd(o outcome) {
	switch {
	case o.Err != "":
		f.add("deadlock", 1)
	default:
		f.add("clean end", 1)
	}
	if len(o.Failures) > 0 {
		f.add("failure reported", 1)
	}
}

func (f *features) check(t *testing.T) {
	for _, name := range []string{"sleeping tasklet", "paused tasklet", "select waiter", "atomic or block-trap tasklet",
		"delivered error not yet seen", "buffered value", "closed channel", "blocked receiver",
		"blocked sender holding a value", "posted value without a tasklet", "error in a channel", "select timeout",
		"deadlock", "clean end", "failure reported", "watchdog victim", "snapshot with a paused victim"} {
		assert.Positive(t, f.n[name], "no world of the suite had a %s", name)
	}
	keys := make([]string, 0, len(f.n))
	for k := range f.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-32s %d", k, f.n[k])
	}
}

// checkRunPickled runs the whole battery on one world.
func checkRunPickled(t *testing.T, reg *pickle.Registry, build builder, rng *rand.Rand, feat *features) {
	ctx := context.Background()

	rc := new(recorder)
	s := build(rc.options(reg)...)
	want := outcomeOf(t, reg, s, rc, s.Run(ctx), nil)
	feat.observeEnd(want)
	total := int(s.Steps())

	// Soft budgets stop at a switch and reorder nothing, so a snapshot taken
	// there and run on must give exactly the uninterrupted run.
	ks := []int{0, 1, 2, 3 + rng.IntN(8), total / 2, total - 1, total + 3}
	slices.Sort(ks)
	ks = slices.Compact(ks)
	fileK := rng.IntN(len(ks)) // the file snapshot (two fsyncs) for one k only
	for i, k := range ks {
		if k < 0 {
			continue
		}
		t.Run(fmt.Sprint("soft k=", k), func(t *testing.T) {
			rc := new(recorder)
			s := build(rc.options(reg)...)
			victim, err := s.RunBudget(ctx, k, scheduler.Total|scheduler.Soft)
			require.Zero(t, victim, "a soft budget interrupts no one")
			if err != nil {
				assert.Equal(t, want.Err, err.Error(), "a deadlock before the budget ran out is the final one")
			}
			feat.observe(s.World())
			for j, via := range snapshotters {
				if j == 2 && i != fileK {
					continue
				}
				s2, rc2 := restore(t, reg, s, rc, via)
				sameOutcome(t, want, outcomeOf(t, reg, s2, rc2, s2.Run(ctx), nil), "restored from "+via.name)
			}
			// A snapshot is a copy: the original goes on as if nothing happened.
			sameOutcome(t, want, outcomeOf(t, reg, s, rc, s.Run(ctx), nil), "the original")
		})
	}

	// Hard interrupts: reference and copy both run the autoschedule loop; the
	// copy is snapshotted between two iterations, right after an interrupt,
	// with its victim paused, and the victim is inserted into the restored
	// scheduler.
	n := 1 + rng.IntN(3)
	rc = new(recorder)
	ref := &sliceRun{s: build(rc.options(reg)...), n: n}
	for !ref.done {
		ref.next(t)
	}
	wantSliced := outcomeOf(t, reg, ref.s, rc, ref.err, ref.victims)
	feat.add("watchdog victim", len(ref.victims))
	js := []int{0, 1, len(ref.victims) / 2, len(ref.victims)}
	slices.Sort(js)
	for _, j := range slices.Compact(js) {
		if j > len(ref.victims) {
			continue
		}
		t.Run(fmt.Sprintf("timeslice %d snapshot after %d interrupts", n, j), func(t *testing.T) {
			rc := new(recorder)
			run := &sliceRun{s: build(rc.options(reg)...), n: n}
			for !run.done && len(run.victims) < j {
				run.next(t)
			}
			w := run.s.World()
			feat.observe(w)
			if run.pending != 0 {
				ts, err := run.s.TaskletState(run.pending)
				require.NoError(t, err)
				require.Equal(t, tasklet.Paused, ts.State, "the victim waits, paused, for Insert")
				feat.add("snapshot with a paused victim", 1)
			}
			run.s, rc = restore(t, reg, run.s, rc, snapshotters[j%2])
			for !run.done {
				run.next(t)
			}
			sameOutcome(t, wantSliced, outcomeOf(t, reg, run.s, rc, run.err, run.victims), "restored between interrupts")
		})
	}

	// A hard total budget: the victim is inserted after the snapshot too.
	for _, k := range []int{1 + rng.IntN(4), total / 3} {
		t.Run(fmt.Sprint("hard total k=", k), func(t *testing.T) {
			runHard := func(snapshot bool) outcome {
				rc := new(recorder)
				s := build(rc.options(reg)...)
				victim, err := s.RunBudget(ctx, k, scheduler.Total)
				if snapshot {
					s, rc = restore(t, reg, s, rc, snapshotters[0])
				}
				var victims []tasklet.ID
				if victim != 0 {
					victims = append(victims, victim)
					require.NoError(t, s.Insert(victim))
				}
				if err == nil {
					err = s.Run(ctx)
				}
				return outcomeOf(t, reg, s, rc, err, victims)
			}
			sameOutcome(t, runHard(false), runHard(true), "restored after a hard total budget")
		})
	}
}

func TestRunPickledRandomPrograms(t *testing.T) {
	reg := progRegistry(t)
	seeds := 150
	if testing.Short() {
		seeds = 20
	}
	feat := new(features)
	t.Run("seeds", func(t *testing.T) {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
				t.Parallel()
				build := func(opts ...scheduler.Option) *scheduler.Scheduler { return buildRandom(seed, opts...) }
				checkRunPickled(t, reg, build, rand.New(rand.NewPCG(seed, 1)), feat)
			})
		}
	})
	feat.check(t)
}

func TestRunPickledExamples(t *testing.T) {
	reg := progRegistry(t)
	names := make([]string, 0, len(exampleWorlds))
	for name := range exampleWorlds {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			checkRunPickled(t, reg, exampleWorlds[name], rand.New(rand.NewPCG(uint64(i), 2)), new(features))
		})
	}
}
