// Package testworld holds small deterministic tasklet programs that the
// tests and benchmarks of several packages share: a pipeline that sums mixed
// numbers (a long checkpointable task) and idle entities (a large world).
package testworld

import (
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Register adds the kinds of this package to r.
func Register(r *pickle.Registry) error {
	return errors.Join(
		r.Register("testworld.feeder", 1, &Feeder{}),
		r.Register("testworld.mixer", 1, &Mixer{}),
		r.Register("testworld.reducer", 1, &Reducer{}),
		r.Register("testworld.entity", 1, &Entity{}),
	)
}

// Registry returns a new registry with this package's kinds.
func Registry() *pickle.Registry {
	r := pickle.NewRegistry()
	if err := Register(r); err != nil {
		panic(err)
	}
	return r
}

// Mix is a deterministic, CPU-bound function of x (rounds of splitmix64).
func Mix(x uint64, rounds int) uint64 {
	for range rounds {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		x = z ^ (z >> 31)
	}
	return x
}

// Feeder sends 1..N on Out, then closes it.
type Feeder struct {
	Out  channel.ID
	I, N uint64
}

func (f *Feeder) Step(t *tasklet.T) tasklet.Op {
	if f.I == f.N {
		t.Close(f.Out)
		return t.Exit()
	}
	f.I++
	return t.Send(f.Out, f.I)
}

// Mixer receives numbers from In, mixes each and sends the result on Out,
// until In is closed.
type Mixer struct {
	In, Out channel.ID
	Rounds  int
	Got     bool
	X       uint64
}

func (m *Mixer) Step(t *tasklet.T) tasklet.Op {
	if !m.Got {
		m.Got = true
		return t.Recv(m.In)
	}
	if errors.Is(t.Err(), channel.ErrClosed) {
		return t.Exit()
	}
	if v := t.Value(); v != nil {
		m.X = Mix(v.(uint64), m.Rounds)
		return t.Send(m.Out, m.X)
	}
	m.Got = false
	return t.Continue()
}

// Reducer receives N values from In and sends their sum and xor to Res.
type Reducer struct {
	In, Res  channel.ID
	N, Count uint64
	Sum, Xor uint64
	Done     bool
}

func (r *Reducer) Step(t *tasklet.T) tasklet.Op {
	if r.Done {
		return t.Exit()
	}
	if v := t.Value(); v != nil {
		x := v.(uint64)
		r.Sum += x
		r.Xor ^= x * (r.Count + 1)
		r.Count++
	}
	if r.Count == r.N {
		r.Done = true
		return t.Send(r.Res, fmt.Sprintf("n=%d sum=%x xor=%x", r.N, r.Sum, r.Xor))
	}
	return t.Recv(r.In)
}

// Pipeline spawns a feeder of n numbers, `mixers` mixers doing `rounds`
// rounds each, and a reducer; its result arrives on the returned buffered
// channel.
func Pipeline(s *scheduler.Scheduler, n uint64, mixers, rounds int) channel.ID {
	in := s.NewChannel(16)
	out := s.NewChannel(16)
	res := s.NewChannel(1)
	s.Spawn(&Feeder{Out: in, N: n})
	for range mixers {
		s.Spawn(&Mixer{In: in, Out: out, Rounds: rounds})
	}
	s.Spawn(&Reducer{In: out, Res: res, N: n})
	return res
}

// Result reads a pipeline's result from its result channel, "" if none yet.
func Result(s *scheduler.Scheduler, res channel.ID) string {
	cs, err := s.ChannelState(res)
	if err != nil || len(cs.Buffer) == 0 {
		return ""
	}
	str, _ := cs.Buffer[0].(string)
	return str
}

// Entity is a small game-like behavior that waits on its own channel and
// counts what it receives.
type Entity struct {
	In   channel.ID
	HP   int32
	Seen int32
	X, Y float32
}

func (e *Entity) Step(t *tasklet.T) tasklet.Op {
	if t.Value() != nil {
		e.Seen++
	}
	return t.Recv(e.In)
}

// Entities spawns n entities, each blocked on its own channel after one
// Tick; it returns their channels.
func Entities(s *scheduler.Scheduler, n int) []channel.ID {
	chans := make([]channel.ID, n)
	for i := range chans {
		chans[i] = s.NewChannel(0)
		s.Spawn(&Entity{In: chans[i], HP: 100, X: float32(i % 1000), Y: float32(i / 1000)})
	}
	s.Tick()
	return chans
}

// Crowd spawns n entities blocked on `chans` shared channels (n/chans per
// channel, like scheduler.BenchmarkIdleTasklets) after one Tick; it returns
// the channels.
func Crowd(s *scheduler.Scheduler, n, chans int) []channel.ID {
	ids := make([]channel.ID, chans)
	for i := range ids {
		ids[i] = s.NewChannel(0)
	}
	for i := range n {
		s.Spawn(&Entity{In: ids[i%chans], HP: 100, X: float32(i % 1000), Y: float32(i / 1000)})
	}
	s.Tick()
	return ids
}
