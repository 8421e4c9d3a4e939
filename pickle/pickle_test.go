package pickle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Point is a user value type sent on channels.
type Point struct{ X, Y int }

// Producer sends Points 1..N on Out, then closes it.
type Producer struct {
	Out channel.ID
	I   int
	N   int
}

func (p *Producer) Step(t *tasklet.T) tasklet.Op {
	if p.I == p.N {
		t.Close(p.Out)
		return t.Exit()
	}
	p.I++
	return t.Send(p.Out, Point{p.I, p.I * p.I})
}

// Worker takes Points from In (or times out), sleeps now and then, and
// sends a summary string to Res until In is closed.
type Worker struct {
	Name     string
	In, Res  channel.ID
	PC       int
	Done     int
	Timeouts int
	Last     Point
}

func (w *Worker) Step(t *tasklet.T) tasklet.Op {
	switch w.PC {
	case 0:
		w.PC = 1
		return t.Select(tasklet.RecvCase(w.In), tasklet.TimeoutCase(3*time.Millisecond))
	case 1:
		if errors.Is(t.Err(), channel.ErrClosed) {
			return t.Exit()
		}
		if t.Chosen() == 1 {
			w.Timeouts++
			w.PC = 0
			return t.Yield()
		}
		w.Last = t.Value().(Point)
		w.Done++
		w.PC = 2
		if w.Done%3 == 0 {
			return t.Sleep(time.Duration(w.Done) * time.Millisecond)
		}
		return t.Continue()
	case 2:
		w.PC = 0
		return t.Send(w.Res, fmt.Sprintf("%s:%d:%d", w.Name, w.Last.X, w.Last.Y))
	}
	return t.Fail(fmt.Errorf("bad PC %d", w.PC))
}

func registry(t testing.TB) *pickle.Registry {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("producer", 1, &Producer{}))
	require.NoError(t, r.Register("worker", 1, &Worker{}))
	require.NoError(t, pickle.RegisterValue[Point](r, "point"))
	return r
}

// build makes the pipeline world: one producer, three workers, a rendezvous
// input channel and a buffered result channel that keeps every result.
func build(n int) (*scheduler.Scheduler, channel.ID) {
	s := scheduler.New()
	in := s.NewChannel(0)
	res := s.NewChannel(10 * n)
	s.Spawn(&Producer{Out: in, N: n})
	for i := range 3 {
		s.Spawn(&Worker{Name: fmt.Sprintf("w%d", i), In: in, Res: res})
	}
	return s, res
}

func results(t testing.TB, s *scheduler.Scheduler, res channel.ID) []any {
	cs, err := s.ChannelState(res)
	require.NoError(t, err)
	return cs.Buffer
}

// TestRunPickled runs the pipeline k steps, snapshots it (as one blob and as
// header + records), restores each into a fresh scheduler, runs all three to
// the end and checks they agree with the run that was never interrupted.
func TestRunPickled(t *testing.T) {
	r := registry(t)
	ctx := context.Background()
	ref, refRes := build(20)
	require.NoError(t, ref.Run(ctx))
	want := results(t, ref, refRes)
	require.Len(t, want, 20)

	for _, k := range []int{0, 1, 2, 5, 17, 40, 77, 150} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			s, res := build(20)
			if k > 0 { // a soft budget stops at a switch and reorders nothing
				victim, err := s.RunBudget(ctx, k, scheduler.Total|scheduler.Soft)
				require.NoError(t, err)
				require.Zero(t, victim)
			}
			blob, err := r.DumpWorld(s.World())
			require.NoError(t, err)
			meta, recs, err := r.EncodeWorld(s.World())
			require.NoError(t, err)

			w1, err := r.LoadWorld(blob)
			require.NoError(t, err)
			w2, err := r.DecodeWorld(meta, recs)
			require.NoError(t, err)
			s1, err := scheduler.Restore(w1)
			require.NoError(t, err)
			s2, err := scheduler.Restore(w2)
			require.NoError(t, err)

			for _, x := range []*scheduler.Scheduler{s, s1, s2} {
				require.NoError(t, x.Run(ctx))
				assert.Equal(t, want, results(t, x, res))
				assert.Equal(t, ref.Now(), x.Now(), "virtual clock at the end")
			}
		})
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	r := registry(t)
	s, res := build(5)
	_, err := s.RunBudget(context.Background(), 10, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	blob, err := r.DumpWorld(s.World())
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	w, err := r.LoadWorld(blob)
	require.NoError(t, err)
	s2, err := scheduler.Restore(w)
	require.NoError(t, err)
	assert.Less(t, len(results(t, s2, res)), 5, "the snapshot must not see what the original did after it")
	require.NoError(t, s2.Run(context.Background()))
	assert.Equal(t, results(t, s, res), results(t, s2, res))
}

func TestValuesKeepTheirTypes(t *testing.T) {
	r := registry(t)
	values := []any{nil, 7, int64(-3), int8(5), uint16(9), "s", 2.5, float32(1.5), true, []byte("b"),
		[]int{1, 2}, map[string]int{"a": 1}, time.Second, Point{1, 2}, &Point{3, 4},
		tasklet.ID(5), channel.ID(6), channel.Bomb{Err: tasklet.ErrKilled}}
	s := scheduler.New()
	ch := s.NewChannel(len(values))
	for _, v := range values {
		s.PostLocal(ch, v)
	}
	b, err := r.DumpWorld(s.World())
	require.NoError(t, err)
	w, err := r.LoadWorld(b)
	require.NoError(t, err)
	require.Len(t, w.Channels, 1)
	got := w.Channels[0].Buffer
	require.Len(t, got, len(values))
	for i, v := range values {
		assert.Equal(t, v, got[i], "value %d (%T)", i, v)
	}
	bomb := got[len(got)-1].(channel.Bomb)
	assert.ErrorIs(t, bomb.Err, tasklet.ErrKilled, "registered sentinels keep their identity")
}

type unregistered struct{ A int }

func TestUnregisteredTypesNameTheGoType(t *testing.T) {
	r := registry(t)
	s := scheduler.New()
	ch := s.NewChannel(1)
	s.PostLocal(ch, unregistered{1})
	_, err := r.DumpWorld(s.World())
	require.ErrorIs(t, err, pickle.ErrUnregistered)
	assert.Contains(t, err.Error(), "pickle_test.unregistered")
	assert.Contains(t, err.Error(), "RegisterValue")

	s2 := scheduler.New()
	s2.Spawn(&Stray{})
	_, err = r.DumpWorld(s2.World())
	require.ErrorIs(t, err, pickle.ErrUnregistered)
	assert.Contains(t, err.Error(), "*pickle_test.Stray")
	assert.Contains(t, err.Error(), "pickle.Register")
}

type Stray struct{}

func (Stray) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// GuardV1 is the old state of kind "guard"; GuardV2 renamed HP to Health
// and counts it in tenths.
type GuardV1 struct{ HP int }

func (g *GuardV1) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

type GuardV2 struct{ Health int }

func (g *GuardV2) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func TestKindVersions(t *testing.T) {
	old := pickle.NewRegistry()
	require.NoError(t, old.Register("guard", 1, &GuardV1{}))
	b, err := old.DumpTasklet(&scheduler.TaskletState{ID: 9, Behavior: &GuardV1{HP: 7}, State: tasklet.Runnable})
	require.NoError(t, err)

	unknown := pickle.NewRegistry()
	_, err = unknown.LoadTasklet(b)
	require.ErrorIs(t, err, pickle.ErrUnknownKind)
	assert.Contains(t, err.Error(), `"guard"`)

	noUpgrade := pickle.NewRegistry()
	require.NoError(t, noUpgrade.Register("guard", 2, &GuardV2{}))
	_, err = noUpgrade.LoadTasklet(b)
	require.ErrorIs(t, err, pickle.ErrKindVersion)
	assert.Contains(t, err.Error(), "version 1")
	assert.Contains(t, err.Error(), "version 2")

	upgraded := pickle.NewRegistry()
	require.NoError(t, upgraded.Register("guard", 2, &GuardV2{},
		pickle.Upgrade(1, func(o *GuardV1) (tasklet.Behavior, error) { return &GuardV2{Health: o.HP * 10}, nil })))
	rec, err := upgraded.LoadTasklet(b)
	require.NoError(t, err)
	assert.Equal(t, &GuardV2{Health: 70}, rec.Behavior)
	assert.Equal(t, uint32(1), rec.Version)

	insp, err := unknown.Inspect(b)
	require.NoError(t, err)
	assert.Equal(t, "guard", insp.Kind)
	assert.EqualValues(t, 7, insp.Fields["HP"])
}

func TestHostileInputIsAnError(t *testing.T) {
	r := registry(t)
	for _, b := range [][]byte{
		{}, {0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdc, 0xff, 0xff}, {0xc6, 0xff, 0xff, 0xff, 0xff},
		{0x9f, 0xa1, 't', 0x01}, // a tasklet record cut short
	} {
		_, err := r.LoadTasklet(b)
		assert.Error(t, err, "% x", b)
		_, err = r.LoadWorld(b)
		assert.Error(t, err, "% x", b)
		_, err = r.LoadChannel(b)
		assert.Error(t, err, "% x", b)
	}
	deep := make([]byte, 100_000)
	for i := range deep {
		deep[i] = 0x91
	}
	_, err := r.LoadTasklet(deep)
	assert.ErrorIs(t, err, pickle.ErrMalformed)
}
