package pickle_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Fetcher asks for effect "fetch" with a Point and keeps the answer.
type Fetcher struct {
	PC  int
	Got string
}

func (f *Fetcher) Step(t *tasklet.T) tasklet.Op {
	if f.PC == 0 {
		f.PC = 1
		return t.Do("fetch", Point{3, 4})
	}
	v, err := t.Value(), t.Err()
	if err != nil {
		return t.Fail(err)
	}
	f.Got = v.(string)
	return t.Exit()
}

// TestPendingEffectRoundTrips: a tasklet waiting on an effect is saved as a
// blocked tasklet with its effect case (name and request); the restored
// scheduler issues the call again with the same key.
func TestPendingEffectRoundTrips(t *testing.T) {
	r := registry(t)
	require.NoError(t, r.Register("fetcher", 1, &Fetcher{}))
	keys := make(chan scheduler.EffectKey, 2)
	held := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(held, "fetch", func(ctx context.Context, key scheduler.EffectKey, _ Point) (string, error) {
		keys <- key
		<-ctx.Done()
		return "", ctx.Err()
	}))
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := scheduler.New(scheduler.WithEffects(held, scheduler.EffectConfig{Context: stop}))
	id := s.Spawn(&Fetcher{})
	require.NoError(t, s.Tick())
	first := <-keys

	blob, err := r.DumpWorld(s.World())
	require.NoError(t, err)
	w, err := r.LoadWorld(blob)
	require.NoError(t, err)
	require.Len(t, w.Tasklets, 1)
	assert.Equal(t, []tasklet.Case{tasklet.DoCase("fetch", Point{3, 4})}, w.Tasklets[0].Cases)

	answer := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(answer, "fetch", func(_ context.Context, key scheduler.EffectKey, p Point) (string, error) {
		keys <- key
		return "fetched", nil
	}))
	var done *Fetcher
	r2, err := scheduler.Restore(w, scheduler.WithEffects(answer, scheduler.EffectConfig{}))
	require.NoError(t, err)
	done = r2.Behavior(id).(*Fetcher)
	require.NoError(t, r2.Run(context.Background()))
	assert.Equal(t, first, <-keys, "the same idempotency key")
	assert.Equal(t, "fetched", done.Got)
}

// TestEffectCaseNeedsItsName: an effect case without a name, or with the
// field count of another direction, is refused as corrupt, and is not
// written either: a save that does not load loses every tasklet in it.
func TestEffectCaseNeedsItsName(t *testing.T) {
	r := registry(t)
	require.NoError(t, r.Register("fetcher", 1, &Fetcher{}))
	s := scheduler.New(scheduler.WithEffects(scheduler.NewEffects(), scheduler.EffectConfig{}))
	s.Spawn(&Fetcher{})
	require.NoError(t, s.Tick()) // fails at once (unknown effect): the world has no waiter
	w := s.World()
	w.Tasklets = append(w.Tasklets, scheduler.TaskletState{ID: 99, Behavior: &Fetcher{PC: 1}, State: tasklet.Blocked,
		Cases: []tasklet.Case{{Dir: tasklet.DirDo, Value: Point{1, 2}}}})
	w.NextTasklet = 99
	_, err := r.DumpWorld(w)
	assert.ErrorIs(t, err, pickle.ErrCorrupt)
	assert.ErrorContains(t, err, "names no effect")

	// The record as an older version could write it: the name "x" cut to "".
	w.Tasklets[len(w.Tasklets)-1].Cases[0].Effect = "x"
	rec, err := r.DumpTasklet(&w.Tasklets[len(w.Tasklets)-1])
	require.NoError(t, err)
	i := bytes.LastIndex(rec, []byte{0xa1, 'x'})
	require.Positive(t, i)
	rec = append(rec[:i:i], append([]byte{0xa0}, rec[i+2:]...)...)
	_, err = r.LoadTasklet(rec)
	assert.ErrorIs(t, err, pickle.ErrCorrupt)
	assert.ErrorContains(t, err, "names no effect")
}

// TestACaseOfNoDirectionIsNotWritten: a wait the decoder would refuse fails
// the save with the tasklet named, instead of writing a save that does not
// load.
func TestACaseOfNoDirectionIsNotWritten(t *testing.T) {
	r := registry(t)
	require.NoError(t, r.Register("fetcher", 1, &Fetcher{}))
	ts := scheduler.TaskletState{ID: 7, Behavior: &Fetcher{PC: 1}, State: tasklet.Blocked,
		Cases: []tasklet.Case{tasklet.RecvCase(1), {Dir: 9}}}
	_, err := r.DumpTasklet(&ts)
	require.ErrorIs(t, err, pickle.ErrCorrupt)
	assert.ErrorContains(t, err, "tasklet t7")
	assert.ErrorContains(t, err, "case 1 has direction 9")
}
