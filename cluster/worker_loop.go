package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/stackless-go/stackless/scheduler"
)

// Slices of the worker loop: the scheduler runs RunBudget(n, Total|Soft)
// and stops at the first switch after n steps; a waiting request (pause,
// snapshot, spawn...) ends a slice at the next step boundary (see
// preempt). n adapts so a slice takes a millisecond or a few whatever the
// steps cost, which is how often load figures are sampled.
const (
	minBudget  = 16
	maxBudget  = 1 << 14
	sliceShort = time.Millisecond
	sliceLong  = 4 * time.Millisecond
	statEvery  = 100 * time.Millisecond
	staleStats = 500 * time.Millisecond
)

// awaitPoll bounds a slice while someone awaits a tasklet, so an await of
// a tasklet that exits (or is paused by a request) is answered though the
// scheduler idles; a tasklet's own Pause wakes its awaits at once
// (pausedNow). A variable for the test that checks the latter.
var awaitPoll = 20 * time.Millisecond

// loop runs the scheduler in slices until the worker is stopped.
func (w *worker) loop(ctx context.Context) error {
	budget := 256
	lastStat := time.Now()
	var lastSteps uint64
	for {
		w.serveQueued()
		if err, done := w.ended(ctx); done {
			return err
		}
		if w.paused {
			select {
			case r := <-w.reqs:
				w.run(r)
			case <-ctx.Done():
			}
			continue
		}
		w.interrupt.Store(false)
		sctx, cancel := context.WithCancel(ctx)
		if len(w.waiters) > 0 {
			// Someone awaits a tasklet's pause: come back even if the
			// scheduler idles once it paused.
			sctx, cancel = context.WithTimeout(ctx, awaitPoll)
		}
		w.mu.Lock()
		w.cancel = cancel
		pending := len(w.reqs) > 0 || w.stopped
		w.mu.Unlock()
		if pending {
			w.interrupt.Store(true)
			cancel()
		}
		start := time.Now()
		_, err := w.s.RunBudget(sctx, budget, scheduler.Total|scheduler.Soft)
		interrupted := sctx.Err() != nil || errors.Is(err, errPreempted)
		cancel()
		w.mu.Lock()
		w.cancel = nil
		w.mu.Unlock()
		w.checkWaiters()
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errPreempted) {
			w.log.Error("cluster: scheduler stopped", "err", err)
			return fmt.Errorf("cluster: worker %d: %w", w.node, err)
		}
		if took := time.Since(start); !interrupted && took < sliceShort && budget < maxBudget {
			budget *= 2
		} else if took > sliceLong && budget > minBudget {
			budget /= 2
		}
		now := time.Now()
		w.statMu.Lock()
		rc := w.s.RunCount()
		w.runSum += float64(rc)
		w.runN++
		if dt := now.Sub(lastStat); dt >= statEvery {
			steps := w.s.Steps()
			w.stats.StepsPerSec = float64(steps-lastSteps) / dt.Seconds()
			lastSteps, lastStat = steps, now
		}
		w.statAt = now
		w.statMu.Unlock()
		w.publish()
	}
}

// ended reports whether the loop must end, and with what.
func (w *worker) ended(ctx context.Context) (error, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return w.stopErr, true
	}
	if ctx.Err() != nil {
		return ctx.Err(), true
	}
	return nil, false
}

// serveQueued runs the requests waiting, without blocking.
func (w *worker) serveQueued() {
	for {
		select {
		case r := <-w.reqs:
			w.run(r)
		default:
			return
		}
	}
}

func (w *worker) run(r *request) {
	v, err := r.fn()
	w.publish()
	r.done <- result{v, err}
}

// publish refreshes the counts readStats reports (loop goroutine), and
// the heap size once a second.
func (w *worker) publish() {
	now := time.Now()
	heap := uint64(0)
	if now.Sub(w.heapAt) >= time.Second {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			heap = sample[0].Value.Uint64()
		}
		w.heapAt = now
	}
	w.statMu.Lock()
	w.stats.Steps, w.stats.Tasklets, w.stats.RunnableNow = w.s.Steps(), w.s.Len(), w.s.RunCount()
	w.stats.Switches, w.stats.ChannelOps, w.stats.Blocked, w.stats.Timers = w.s.Switches(), w.s.ChannelOps(), w.s.Blocked(), w.s.TimerCount()
	if heap != 0 {
		w.stats.HeapBytes = heap
	}
	w.statMu.Unlock()
}

// do runs fn on the loop goroutine at the next step boundary (at once when
// paused) and returns its result.
func (w *worker) do(ctx context.Context, fn func() (any, error)) (any, error) {
	r := &request{fn: fn, done: make(chan result, 1)}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w.mu.Lock()
	cancel := w.cancel
	w.mu.Unlock()
	w.interrupt.Store(true)
	if cancel != nil {
		cancel()
	}
	select {
	case res := <-r.done:
		return res.v, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("cluster: worker %d did not serve a request in time: %w", w.node, ctx.Err())
	}
}

// readStats returns the worker's figures; the runnable average covers the
// time since the previous read.
func (w *worker) readStats() WorkerStats {
	w.statMu.Lock()
	defer w.statMu.Unlock()
	st := w.stats
	st.Hosts = append([]uint16(nil), w.hosts...)
	if w.runN > 0 {
		st.Runnable = w.runSum / float64(w.runN)
	} else {
		st.Runnable = float64(st.RunnableNow)
	}
	if time.Since(w.statAt) > staleStats {
		st.StepsPerSec = 0 // no slice ended lately: the scheduler idles
	}
	w.runSum, w.runN = 0, 0
	if w.n != nil {
		ls := w.n.Stats() // atomics, safe from this goroutine
		st.FramesIn, st.FramesOut, st.BytesIn, st.BytesOut = ls.FramesIn, ls.FramesOut, ls.BytesIn, ls.BytesOut
	}
	return st
}

func (w *worker) setPaused(p bool) {
	w.paused = p
	w.statMu.Lock()
	w.stats.Paused = p
	if p {
		w.stats.StepsPerSec = 0
	}
	w.statMu.Unlock()
}
