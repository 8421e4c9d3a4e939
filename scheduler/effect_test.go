package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// waitFor is how long a test waits for an event of another goroutine: long,
// because the machine may be loaded; the event normally comes at once.
const waitFor = 30 * time.Second

func runCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// echo is an effect that answers its request with a prefix.
func echoEffects(t *testing.T, opts ...scheduler.EffectOption) *scheduler.Effects {
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "echo", func(_ context.Context, _ scheduler.EffectKey, req string) (string, error) {
		return "echo:" + req, nil
	}, opts...))
	return reg
}

// doOnce is a tasklet that asks for one effect and records what came back.
func doOnce(name string, req any, got *any, gotErr *error) tasklet.Behavior {
	return steps(
		func(t *tasklet.T) tasklet.Op { return t.Do(name, req) },
		func(t *tasklet.T) tasklet.Op {
			*got, *gotErr = t.Value(), t.Err()
			return t.Exit()
		},
	)
}

func TestEffectDeliversResponse(t *testing.T) {
	s := scheduler.New(scheduler.WithEffects(echoEffects(t), scheduler.EffectConfig{}))
	var got any
	var err error
	s.Spawn(doOnce("echo", "hi", &got, &err))
	require.NoError(t, s.Run(runCtx(t)))
	assert.NoError(t, err)
	assert.Equal(t, "echo:hi", got)
	assert.Zero(t, s.Len())
}

// TestEffectRunWaitsInsteadOfDeadlock: while an effect is in flight and
// nothing is runnable, Run waits for its result; it does not report a
// deadlock.
func TestEffectRunWaitsInsteadOfDeadlock(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "slow", func(ctx context.Context, _ scheduler.EffectKey, n int) (int, error) {
		close(started)
		<-release
		return n * 2, nil
	}))
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{}))
	var got any
	var err error
	s.Spawn(doOnce("slow", 21, &got, &err))
	go func() {
		<-started
		close(release)
	}()
	require.NoError(t, s.Run(runCtx(t)))
	assert.NoError(t, err)
	assert.Equal(t, 42, got)
}

func TestEffectErrors(t *testing.T) {
	errBoom := errors.New("boom")
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "fails", func(context.Context, scheduler.EffectKey, string) (string, error) {
		return "", errBoom
	}))
	require.NoError(t, scheduler.RegisterEffect(reg, "panics", func(context.Context, scheduler.EffectKey, string) (string, error) {
		panic("effect bug")
	}))
	require.NoError(t, scheduler.RegisterEffect(reg, "typed", func(context.Context, scheduler.EffectKey, string) (string, error) {
		return "never", nil
	}))
	tests := []struct {
		name     string
		effect   string
		req      any
		sentinel error
		text     string
	}{
		{"the effect's error", "fails", "x", errBoom, "boom"},
		{"the effect's error is an effect failure", "fails", "x", scheduler.ErrEffectFailed, "fails"},
		{"a panic", "panics", "x", scheduler.ErrEffectPanic, "effect bug"},
		{"a request of the wrong type", "typed", 7, scheduler.ErrEffectRequest, "got int, want string"},
		{"an unknown effect", "nope", "x", scheduler.ErrUnknownEffect, `"nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{}))
			var got any
			var err error
			s.Spawn(doOnce(tc.effect, tc.req, &got, &err))
			other := 0
			s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				other++
				if other == 3 {
					return t.Exit()
				}
				return t.Yield()
			}))
			require.NoError(t, s.Run(runCtx(t)), "the scheduler goes on")
			assert.ErrorIs(t, err, tc.sentinel)
			assert.ErrorContains(t, err, tc.text)
			assert.Nil(t, got)
			assert.Equal(t, 3, other, "the other tasklet ran to its end")
		})
	}
}

func TestEffectWithoutEffectsConfigured(t *testing.T) {
	s := scheduler.New()
	var got any
	var err error
	s.Spawn(doOnce("echo", "x", &got, &err))
	require.NoError(t, s.Run(runCtx(t)))
	assert.ErrorIs(t, err, scheduler.ErrUnknownEffect)
	assert.ErrorContains(t, err, "WithEffects")
}

// cancelRecorder is an effect that waits for its context to end and
// reports that it did.
func cancelRecorder(t *testing.T, cancelled chan<- scheduler.EffectKey, started chan<- struct{}) *scheduler.Effects {
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "wait", func(ctx context.Context, key scheduler.EffectKey, _ string) (string, error) {
		if started != nil {
			started <- struct{}{}
		}
		select {
		case <-ctx.Done():
			cancelled <- key
			return "", ctx.Err()
		case <-time.After(waitFor):
			return "not cancelled", nil
		}
	}))
	return reg
}

func TestEffectKillCancelsContext(t *testing.T) {
	cancelled := make(chan scheduler.EffectKey, 1)
	started := make(chan struct{}, 1)
	s := scheduler.New(scheduler.WithEffects(cancelRecorder(t, cancelled, started), scheduler.EffectConfig{}))
	var got any
	var err error
	victim := s.Spawn(doOnce("wait", "x", &got, &err))
	var killErr error
	s.Spawn(steps(
		func(tk *tasklet.T) tasklet.Op { return tk.Yield() }, // the victim asks first
		func(tk *tasklet.T) tasklet.Op {
			<-started // the call runs: the kill must reach it
			killErr = tk.Host().Kill(victim, true)
			return tk.Exit()
		},
	))
	require.NoError(t, s.Run(runCtx(t)))
	require.NoError(t, killErr)
	select {
	case key := <-cancelled:
		assert.Equal(t, victim, key.Tasklet)
	case <-time.After(waitFor):
		t.Fatal("the effect's context was not cancelled by the kill")
	}
	assert.Nil(t, got, "the killed tasklet never saw a result")
	assert.Zero(t, s.Len())
}

func TestEffectSelectTimeoutCancelsEffect(t *testing.T) {
	cancelled := make(chan scheduler.EffectKey, 1)
	s := scheduler.New(scheduler.WithEffects(cancelRecorder(t, cancelled, nil), scheduler.EffectConfig{}))
	chosen := -2
	var err error
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			return t.Select(tasklet.DoCase("wait", "x"), tasklet.TimeoutCase(time.Second))
		},
		func(t *tasklet.T) tasklet.Op {
			chosen, err = t.Chosen(), t.Err()
			return t.Exit()
		},
	))
	require.NoError(t, s.Run(runCtx(t)))
	assert.Equal(t, 1, chosen, "the timeout fired (a virtual clock jumps to it)")
	assert.NoError(t, err)
	select {
	case key := <-cancelled:
		assert.Equal(t, 0, key.Case)
	case <-time.After(waitFor):
		t.Fatal("the losing effect's context was not cancelled")
	}
}

func TestEffectSelectWithChannels(t *testing.T) {
	t.Run("a ready channel wins and the effect is not run", func(t *testing.T) {
		var calls atomic.Int32
		reg := scheduler.NewEffects()
		require.NoError(t, scheduler.RegisterEffect(reg, "count", func(context.Context, scheduler.EffectKey, string) (string, error) {
			calls.Add(1)
			return "ran", nil
		}))
		s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{}))
		ch := s.NewChannel(1)
		chosen := -2
		var v any
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, "ready") },
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.DoCase("count", "x"), tasklet.RecvCase(ch))
			},
			func(t *tasklet.T) tasklet.Op {
				chosen, v = t.Chosen(), t.Value()
				return t.Exit()
			},
		))
		require.NoError(t, s.Run(runCtx(t)))
		assert.Equal(t, 1, chosen)
		assert.Equal(t, "ready", v)
		assert.Zero(t, calls.Load())
	})
	t.Run("the effect wins over a channel nobody sends on", func(t *testing.T) {
		s := scheduler.New(scheduler.WithEffects(echoEffects(t), scheduler.EffectConfig{}))
		ch := s.NewChannel(0)
		chosen := -2
		var v any
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(ch), tasklet.DoCase("echo", "x"))
			},
			func(t *tasklet.T) tasklet.Op {
				chosen, v = t.Chosen(), t.Value()
				return t.Exit()
			},
		))
		require.NoError(t, s.Run(runCtx(t)))
		assert.Equal(t, 1, chosen)
		assert.Equal(t, "echo:x", v)
		assert.Zero(t, s.Channel(ch).Balance(), "the receive case left the channel's queue")
	})
	t.Run("a channel that gets a value first wins and cancels the effect", func(t *testing.T) {
		cancelled := make(chan scheduler.EffectKey, 1)
		started := make(chan struct{}, 1)
		s := scheduler.New(scheduler.WithEffects(cancelRecorder(t, cancelled, started), scheduler.EffectConfig{}))
		ch := s.NewChannel(0)
		chosen := -2
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.DoCase("wait", "x"), tasklet.RecvCase(ch))
			},
			func(t *tasklet.T) tasklet.Op {
				chosen = t.Chosen()
				return t.Exit()
			},
		))
		go func() {
			<-started
			s.Post(ch, "first")
		}()
		require.NoError(t, s.Run(runCtx(t)))
		assert.Equal(t, 1, chosen)
		select {
		case <-cancelled:
		case <-time.After(waitFor):
			t.Fatal("the effect was not cancelled")
		}
	})
}

// TestEffectPoolLimits: never more calls run at once than the pool's size,
// nor than an effect's own limit; the limits are reached (the calls do run
// side by side); and queued calls start in call order.
func TestEffectPoolLimits(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		limit   int
		want    int
	}{
		{"pool of 3", 3, 0, 3},
		{"effect limit 2 in a pool of 8", 8, 2, 2},
		{"pool of 1", 1, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const n = 12
			// Calls arrive in waves of tc.want and each waits until its
			// wave is complete: the limit must let a whole wave run at once,
			// and a call beyond it would raise the peak.
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			running, peak, arrived := 0, 0, 0
			var order []int
			reg := scheduler.NewEffects()
			require.NoError(t, scheduler.RegisterEffect(reg, "job", func(_ context.Context, _ scheduler.EffectKey, i int) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				running++
				peak = max(peak, running)
				order = append(order, i)
				arrived++
				wave := (arrived + tc.want - 1) / tc.want
				cond.Broadcast()
				for arrived < wave*tc.want {
					cond.Wait()
				}
				running--
				return i, nil
			}, scheduler.EffectLimit(tc.limit)))
			s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{Workers: tc.workers}))
			results := make([]any, n)
			errs := make([]error, n)
			for i := range n {
				s.Spawn(doOnce("job", i, &results[i], &errs[i]))
			}
			require.NoError(t, s.Run(runCtx(t)))
			for i := range n {
				assert.NoError(t, errs[i])
				assert.Equal(t, i, results[i])
			}
			assert.Equal(t, tc.want, peak, "the most calls running at once")
			if tc.want == 1 {
				assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, order, "one at a time, in call order")
			}
		})
	}
}

// TestEffectKeys: a call's key is the tasklet, the step that asked and
// the case; every call of a tasklet has its own.
func TestEffectKeys(t *testing.T) {
	var mu sync.Mutex
	var keys []scheduler.EffectKey
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "key", func(_ context.Context, key scheduler.EffectKey, _ int) (scheduler.EffectKey, error) {
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
		return key, nil
	}))
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{}))
	var asked []uint64
	var seen []any
	n := 0
	id := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if n > 0 {
			seen = append(seen, t.Value())
		}
		if n == 3 {
			return t.Exit()
		}
		n++
		asked = append(asked, t.Steps())
		return t.Do("key", n)
	}))
	require.NoError(t, s.Run(runCtx(t)))
	require.Len(t, keys, 3)
	for i, k := range keys {
		assert.Equal(t, scheduler.EffectKey{Tasklet: id, Step: asked[i], Case: 0}, k)
		assert.Equal(t, k, seen[i], "the response came back to the call that asked")
	}
	assert.Equal(t, fmt.Sprintf("%v-s1-c0", id), keys[0].String())
}

func TestEffectEmigrateRefusedInFlight(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "held", func(context.Context, scheduler.EffectKey, string) (string, error) {
		started <- struct{}{}
		<-release
		return "ok", nil
	}))
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{}))
	var got any
	var err error
	id := s.Spawn(doOnce("held", "x", &got, &err))
	require.NoError(t, s.Tick())
	<-started
	_, emErr := s.Emigrate(id, 2)
	assert.ErrorIs(t, emErr, scheduler.ErrEffectInFlight)
	close(release)
	require.NoError(t, s.Run(runCtx(t)))
	assert.Equal(t, "ok", got)
}

// TestEffectPendingReissuedOnRestore: a call in flight when the world is
// saved is issued again by the restored scheduler, with the same key.
func TestEffectPendingReissuedOnRestore(t *testing.T) {
	keys := make(chan scheduler.EffectKey, 2)
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "k", func(ctx context.Context, key scheduler.EffectKey, _ string) (string, error) {
		keys <- key
		<-ctx.Done() // the first scheduler is abandoned mid-call
		return "", ctx.Err()
	}))
	parent, stop := context.WithCancel(context.Background())
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{Context: parent}))
	var got any
	var err error
	s.Spawn(doOnce("k", "x", &got, &err))
	require.NoError(t, s.Tick())
	first := <-keys
	w := s.World()
	stop()

	reg2 := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg2, "k", func(_ context.Context, key scheduler.EffectKey, req string) (string, error) {
		keys <- key
		return "again:" + req, nil
	}))
	r, rerr := scheduler.Restore(w, scheduler.WithEffects(reg2, scheduler.EffectConfig{}))
	require.NoError(t, rerr)
	require.NoError(t, r.Run(runCtx(t)))
	assert.Equal(t, first, <-keys, "the same key")
	assert.Equal(t, "again:x", got)
	assert.NoError(t, err)
}

func TestEffectPendingWithoutEffectsIsADeadlock(t *testing.T) {
	started := make(chan struct{}, 1)
	s := scheduler.New(scheduler.WithEffects(cancelRecorder(t, make(chan scheduler.EffectKey, 1), started), scheduler.EffectConfig{}))
	var got any
	var err error
	s.Spawn(doOnce("wait", "x", &got, &err))
	require.NoError(t, s.Tick())
	r, rerr := scheduler.Restore(s.World())
	require.NoError(t, rerr)
	runErr := r.Run(runCtx(t))
	assert.ErrorIs(t, runErr, scheduler.ErrDeadlock)
	assert.ErrorContains(t, runErr, "doing effect wait")
}

// memJournal is a Journal in memory that records the order of events.
type memJournal struct {
	mu      sync.Mutex
	m       map[scheduler.EffectKey]scheduler.EffectResult
	records int
}

func (j *memJournal) Lookup(key scheduler.EffectKey) (scheduler.EffectResult, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.m[key]
	return r, ok, nil
}

func (j *memJournal) Record(key scheduler.EffectKey, res scheduler.EffectResult, done func(error)) {
	j.mu.Lock()
	j.m[key] = res
	j.records++
	j.mu.Unlock()
	go done(nil)
}

func TestEffectJournalAnswersRepeatedCalls(t *testing.T) {
	var calls, incs atomic.Int32
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "inc", func(context.Context, scheduler.EffectKey, int) (int, error) {
		calls.Add(1)
		return int(incs.Add(1)), nil
	}))
	require.NoError(t, scheduler.RegisterEffect(reg, "fail", func(context.Context, scheduler.EffectKey, int) (int, error) {
		calls.Add(1)
		return 0, errors.New("remote said no")
	}))
	j := &memJournal{m: map[scheduler.EffectKey]scheduler.EffectResult{}}
	run := func() (any, error, any, error) {
		s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{Journal: j}))
		var v1, v2 any
		var e1, e2 error
		s.Spawn(doOnce("inc", 1, &v1, &e1))
		s.Spawn(doOnce("fail", 1, &v2, &e2))
		require.NoError(t, s.Run(runCtx(t)))
		return v1, e1, v2, e2
	}
	v1, e1, _, e2 := run()
	require.NoError(t, e1)
	assert.Equal(t, 1, v1)
	assert.ErrorContains(t, e2, "remote said no")
	assert.Equal(t, int32(2), calls.Load())
	assert.Equal(t, 2, j.records)

	// The same world run again (as after a restore) reaches the same calls
	// with the same keys: the journal answers, the functions do not run.
	r1, re1, _, re2 := run()
	assert.Equal(t, int32(2), calls.Load(), "no call ran twice")
	assert.Equal(t, 2, j.records)
	assert.NoError(t, re1)
	assert.Equal(t, v1, r1)
	assert.ErrorIs(t, re2, scheduler.ErrEffectFailed)
	assert.ErrorContains(t, re2, "remote said no")
	assert.Equal(t, e2.Error(), re2.Error(), "a replayed error reads as the live one did")
	var rep *scheduler.ReplayedError
	assert.False(t, errors.As(e2, &rep), "the live failure is not a replay")
	require.ErrorAs(t, re2, &rep, "a program can tell a failure of an earlier run")
	assert.Equal(t, "fail", rep.Effect)
	assert.Equal(t, "remote said no", rep.Text)
}

// TestEffectJournalIgnoresAnotherRequest: a journaled result answers only
// the same effect and request at its key; a tasklet that asks otherwise
// there (its inputs came in another order after a restore) runs the call.
func TestEffectJournalIgnoresAnotherRequest(t *testing.T) {
	var calls atomic.Int32
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "inc", func(_ context.Context, _ scheduler.EffectKey, n int) (int, error) {
		calls.Add(1)
		return n + 1, nil
	}))
	j := &memJournal{m: map[scheduler.EffectKey]scheduler.EffectResult{}}
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{Journal: j}))
	var got any
	var err error
	id := s.Spawn(doOnce("inc", 1, &got, &err))
	j.m[scheduler.EffectKey{Tasklet: id, Step: 1}] = scheduler.EffectResult{Effect: "inc", Req: 7, Resp: 8}
	require.NoError(t, s.Run(runCtx(t)))
	assert.Equal(t, 2, got, "the function ran: the journal held another request's answer")
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, 1, j.m[scheduler.EffectKey{Tasklet: id, Step: 1}].Req, "the new result replaced the old")
}

// TestEffectNilJournalPointerIsNoJournal: a nil pointer of a journal type
// (a journal that was not opened) means no journal, not a crash.
func TestEffectNilJournalPointerIsNoJournal(t *testing.T) {
	var j *memJournal
	s := scheduler.New(scheduler.WithEffects(echoEffects(t), scheduler.EffectConfig{Journal: j}))
	var got any
	var err error
	s.Spawn(doOnce("echo", "x", &got, &err))
	require.NoError(t, s.Run(runCtx(t)))
	assert.NoError(t, err)
	assert.Equal(t, "echo:x", got)
}
