package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// pauseOnValue receives one value on In, keeps it and pauses: a result
// held for whoever awaits it.
type pauseOnValue struct {
	In  channel.ID
	Got int
}

func (p *pauseOnValue) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok {
		p.Got = v
		return t.Pause()
	}
	return t.Recv(p.In)
}

// An await is answered as the tasklet's own step pauses it, although the
// worker's scheduler then idles (held, as by its links): the pause hook
// wakes it, not the slice's poll nor the await's own bound, which this
// test sets to an hour. The scaling benchmark's collector is such a
// tasklet: its pause used to be seen up to 20 ms late, in every job.
func TestAwaitIsAnsweredWhenTheTaskletPausesWhileTheWorkerIdles(t *testing.T) {
	oldPoll, oldMax := awaitPoll, maxAwait
	awaitPoll, maxAwait = time.Hour, time.Hour
	t.Cleanup(func() { awaitPoll, maxAwait = oldPoll, oldMax })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	w := bareWorker(nil)
	release := w.s.Hold()
	defer release()
	in := w.s.NewChannel(0)
	id := w.s.Spawn(&pauseOnValue{In: in})
	defer runLoop(ctx, w)()

	answer := make(chan found[TaskletView], 1)
	go func() {
		f, err := w.await(ctx, awaitReq{ID: id, Timeout: time.Hour})
		assert.NoError(t, err)
		answer <- f
	}()
	for registered := false; !registered; { // the await waits in the worker before the value comes
		var err error
		registered, err = doTyped(ctx, w, func() (bool, error) { return len(w.waiters[id]) > 0, nil })
		require.NoError(t, err)
	}
	w.s.Post(in, 7)

	select {
	case f := <-answer:
		require.True(t, f.Found)
		assert.Equal(t, tasklet.Paused.String(), f.V.State)
		var got pauseOnValue
		require.NoError(t, json.Unmarshal(f.V.Fields, &got))
		assert.Equal(t, pauseOnValue{In: in, Got: 7}, got)
	case <-ctx.Done():
		t.Fatal("the await was not answered when the tasklet paused")
	}
}

// bareWorker is a worker of node 1 with no links and no coordinator, for
// tests that drive its requests directly; reg may be nil.
func bareWorker(reg *pickle.Registry) *worker {
	w := &worker{node: 1, reg: reg, reqs: make(chan *request, 64), waiters: map[tasklet.ID][]chan struct{}{},
		log: slog.New(slog.DiscardHandler)}
	w.s = scheduler.New(scheduler.WithNode(1), scheduler.WithPauseHook(w.pausedNow),
		scheduler.WithCheckpoint(1, 0, w.preempt), scheduler.WithClock(scheduler.NewRealClock(0)))
	return w
}

// runLoop serves w's requests until the returned stop is called.
func runLoop(ctx context.Context, w *worker) (stop func()) {
	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan error, 1)
	go func() { loopDone <- w.loop(loopCtx) }()
	return func() {
		stopLoop()
		<-loopDone
	}
}
