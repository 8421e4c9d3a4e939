package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// handlerTimeout bounds the work of one control call on a worker.
const handlerTimeout = 2 * time.Minute

// serveAll registers the worker's control handlers.
func (w *worker) serveAll() {
	reg := func(kind string, h handler) {
		serve(w.handler, w.n, &w.blobs, kind, func(ctx context.Context, req []byte) ([]byte, error) {
			req, err := w.fence.check(kind, req)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(ctx, handlerTimeout)
			defer cancel()
			return h(ctx, req)
		})
	}
	w.n.Handle(kindChunk, w.blobs.chunk)
	reg(kindWStats, jsonHandler(func(context.Context, none) (WorkerStats, error) { return w.readStats(), nil }))
	reg(kindWSpawn, jsonHandler(w.spawn))
	reg(kindWList, jsonHandler(w.list))
	reg(kindWInspect, jsonHandler(w.inspect))
	reg(kindWKill, jsonHandler(w.kill))
	reg(kindWThrow, jsonHandler(w.throw))
	reg(kindWMigrate, jsonHandler(w.migrate))
	reg(kindWShed, jsonHandler(w.shed))
	reg(kindWPause, jsonHandler(w.pause))
	reg(kindWMark, jsonHandler(w.mark))
	reg(kindWDrain, jsonHandler(w.drain))
	reg(kindWSnapshot, w.snapshot)
	reg(kindWStore, jsonHandler(w.storeHeld))
	reg(kindWResume, jsonHandler(w.resume))
	reg(kindWPeers, jsonHandler(w.linkPeers))
	reg(kindWRoute, jsonHandler(w.route))
	reg(kindWStop, jsonHandler(w.stopReq))
	reg(kindWAwait, jsonHandler(w.await))
	reg(kindWChan, jsonHandler(w.hasChannel))
	reg(kindWAdopt, jsonHandler(w.adopt))
}

// doTyped is do for a typed result.
func doTyped[T any](ctx context.Context, w *worker, fn func() (T, error)) (T, error) {
	v, err := w.do(ctx, func() (any, error) { return fn() })
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// spawn builds every behavior first (making the @chan channels), so a bad
// argument spawns nothing, then starts them all.
func (w *worker) spawn(ctx context.Context, req spawnReq) ([]Spawned, error) {
	if req.Count < 1 {
		return nil, fmt.Errorf("cluster: spawn %q: count %d, need 1 or more", req.Kind, req.Count)
	}
	keys := slices.Sorted(maps.Keys(req.Args))
	return doTyped(ctx, w, func() ([]Spawned, error) {
		type ready struct {
			b     tasklet.Behavior
			chans map[string]channel.ID
		}
		var made []channel.ID
		fail := func(err error) ([]Spawned, error) {
			for _, c := range made {
				_ = w.s.Close(c)
			}
			return nil, err
		}
		var all []ready
		for range req.Count {
			args := maps.Clone(req.Args)
			var chans map[string]channel.ID
			for _, k := range keys {
				capacity, ok, err := parseNewChannel(args[k])
				if err != nil {
					return fail(fmt.Errorf("cluster: spawn %q: argument %s: %w", req.Kind, k, err))
				}
				if !ok {
					continue
				}
				id := w.s.NewChannel(capacity)
				made = append(made, id)
				args[k] = strconv.FormatUint(uint64(id), 10)
				if chans == nil {
					chans = map[string]channel.ID{}
				}
				chans[k] = id
			}
			b, err := build(req.Kind, args)
			if err != nil {
				return fail(err)
			}
			if _, err := w.reg.KindOf(b); err != nil {
				return fail(fmt.Errorf("cluster: spawn %q: checkpoints could not save its behavior: %w", req.Kind, err))
			}
			all = append(all, ready{b, chans})
		}
		out := make([]Spawned, len(all))
		for i, r := range all {
			out[i] = Spawned{ID: w.s.Spawn(r.b), Worker: w.node, Channels: r.chans}
		}
		if req.Hold {
			// Paused in the same request, before the loop runs a step of
			// the new tasklets.
			w.setPaused(true)
		}
		return out, nil
	})
}

// found wraps the answer to a request about one tasklet, which only the
// worker holding it can give.
type found[T any] struct {
	Found bool `json:"found"`
	V     T    `json:"v"`
}

func (w *worker) inspect(ctx context.Context, req idReq) (found[TaskletView], error) {
	return doTyped(ctx, w, func() (found[TaskletView], error) { return w.view(req.ID), nil })
}

func (w *worker) kill(ctx context.Context, req idReq) (found[KillResult], error) {
	return doTyped(ctx, w, func() (found[KillResult], error) {
		if w.s.Behavior(req.ID) == nil {
			return found[KillResult]{}, nil
		}
		if err := w.s.Kill(req.ID, true); err != nil {
			return found[KillResult]{}, fmt.Errorf("cluster: kill %v on worker %d: %w", req.ID, w.node, err)
		}
		return found[KillResult]{Found: true, V: KillResult{ID: req.ID, Worker: w.node}}, nil
	})
}

func (w *worker) throw(ctx context.Context, req throwReq) (found[KillResult], error) {
	return doTyped(ctx, w, func() (found[KillResult], error) {
		if w.s.Behavior(req.ID) == nil {
			return found[KillResult]{}, nil
		}
		if err := w.s.Throw(req.ID, errors.New(req.Message), true); err != nil {
			return found[KillResult]{}, fmt.Errorf("cluster: throw into %v on worker %d: %w", req.ID, w.node, err)
		}
		return found[KillResult]{Found: true, V: KillResult{ID: req.ID, Worker: w.node}}, nil
	})
}

func (w *worker) migrate(ctx context.Context, req migrateReq) (MigrateResult, error) {
	if err := w.n.Migrate(ctx, req.ID, req.To); err != nil {
		if errors.Is(err, scheduler.ErrEffectInFlight) {
			// Its effect runs here and the result comes back here.
			return MigrateResult{}, fmt.Errorf("cluster: worker %d: tasklet %v cannot move to worker %d now: %w, and the call's result comes back to this worker; "+
				"run `stackless cluster migrate %v --to %d` again once the call has returned (`stackless cluster ps` shows what it waits on)",
				w.node, req.ID, req.To, scheduler.ErrEffectInFlight, req.ID, req.To)
		}
		return MigrateResult{}, fmt.Errorf("cluster: worker %d: %w", w.node, err)
	}
	return MigrateResult{ID: req.ID, From: w.node, To: req.To}, nil
}

// shedWindow is how many moves of one shed are in flight at once. Each
// move is a MIGRATE, MIGRATED, SETTLED exchange whose round trip, not its
// work, sets the pace: one at a time (about 0.7 ms each between two local
// workers) a shed asked to move 10,000 tasklets moved about a thousand in
// its caller's second, and the caller counted the round as failed; 64 in
// flight moved 2,000 to 7,000 a second, 256 about 12,000. Large tasklets
// could fill the link's queue before 256 are in flight: ipc refuses such
// a move (ErrLinkBusy) and the shed stops there.
const shedWindow = 256

// shed moves up to Count runnable tasklets to another worker, taking them
// from the back of the run queue (those that would run last here), with up
// to shedWindow moves in flight. It stops starting moves once Within has
// passed, so it answers before its caller gives up, with what it moved.
func (w *worker) shed(ctx context.Context, req shedReq) (shedResp, error) {
	ids, err := doTyped(ctx, w, func() ([]tasklet.ID, error) {
		rq := w.s.RunQueue()
		n := min(req.Count, len(rq))
		out := slices.Clone(rq[len(rq)-n:])
		slices.Reverse(out)
		return out, nil
	})
	if err != nil {
		return shedResp{}, err
	}
	stop := ctx
	if req.Within > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(ctx, req.Within)
		defer cancel()
	}
	var (
		mu   sync.Mutex
		resp shedResp
		errs []error
		wg   sync.WaitGroup
		busy atomic.Bool // the link refused a move: it has enough queued
	)
	next := make(chan tasklet.ID)
	for range min(shedWindow, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				// A move started is waited for with the handler's own
				// context, not Within: a MIGRATE sent is answered in a
				// round trip, and counting it moved keeps the reply true.
				err := w.n.Migrate(ctx, id, req.To)
				if errors.Is(err, ipc.ErrLinkBusy) && busy.Swap(true) {
					continue // one busy link said so already
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					resp.Moved = append(resp.Moved, id)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		// The scheduler applies moves even while paused: a shed that went
		// on during a checkpoint barrier (its caller had given up after a
		// second, and hundreds of tasklets were left to move) gave every
		// flush round a frame to count, and the barrier failed after 64.
		// Once paused, out of time, or refused by a link with enough
		// queued (large tasklets), it starts no more; the next
		// balancing moves the rest.
		if stop.Err() != nil || busy.Load() || w.barrierPaused() {
			break
		}
		select {
		case next <- id:
		case <-stop.Done():
		}
	}
	close(next)
	wg.Wait()
	if len(resp.Moved) == 0 && len(errs) > 0 {
		return resp, fmt.Errorf("cluster: worker %d: shed to %d: %w", w.node, req.To, errors.Join(errs...))
	}
	return resp, nil
}

// barrierPaused reports whether a checkpoint barrier paused the worker
// (any goroutine).
func (w *worker) barrierPaused() bool {
	w.statMu.Lock()
	defer w.statMu.Unlock()
	return w.stats.Paused
}

// awaitReq waits until tasklet ID pauses (a tasklet holding a result parks
// itself with t.Pause) or leaves the worker, for at most Timeout.
type awaitReq struct {
	ID      tasklet.ID    `json:"id"`
	Timeout time.Duration `json:"timeout_ns"`
}

// maxAwait bounds one await request (a variable for a test).
var maxAwait = 10 * time.Second

// view describes tasklet id if this worker holds it (loop goroutine).
func (w *worker) view(id tasklet.ID) found[TaskletView] {
	in, err := w.s.Info(id)
	if err != nil {
		return found[TaskletView]{}
	}
	v := TaskletView{ID: in.ID, Kind: in.Kind, Worker: w.node, State: in.State.String(), Steps: in.Steps, Op: in.Op}
	if b := w.s.Behavior(id); b != nil {
		if b, err := json.Marshal(b); err == nil {
			v.Fields = b
		}
		if f, ok := b.(tasklet.Framer); ok {
			v.Frames = f.Where()
		}
	}
	return found[TaskletView]{Found: true, V: v}
}

func (w *worker) await(ctx context.Context, req awaitReq) (found[TaskletView], error) {
	ch := make(chan struct{})
	f, err := doTyped(ctx, w, func() (found[TaskletView], error) {
		f := w.view(req.ID)
		if f.Found && f.V.State != tasklet.Paused.String() {
			w.waiters[req.ID] = append(w.waiters[req.ID], ch)
		}
		return f, nil
	})
	if err != nil || !f.Found || f.V.State == tasklet.Paused.String() {
		return f, err
	}
	t := time.NewTimer(min(max(req.Timeout, 0), maxAwait))
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	return doTyped(ctx, w, func() (found[TaskletView], error) {
		w.waiters[req.ID] = slices.DeleteFunc(w.waiters[req.ID], func(c chan struct{}) bool { return c == ch })
		if len(w.waiters[req.ID]) == 0 {
			delete(w.waiters, req.ID)
		}
		return w.view(req.ID), nil
	})
}

// pausedNow wakes the awaits of tasklet id as its own step pauses it (the
// scheduler's pause hook, on the loop goroutine). Left to checkWaiters, an
// await would wait for the end of the slice, which a scheduler that idles
// after the pause (nothing else runnable) reaches only at awaitPoll: up to
// 20 ms added to every job a caller awaits.
func (w *worker) pausedNow(id tasklet.ID) {
	chs, ok := w.waiters[id]
	if !ok {
		return
	}
	for _, c := range chs {
		close(c)
	}
	delete(w.waiters, id)
}

// checkWaiters wakes the awaits of tasklets that paused or left.
func (w *worker) checkWaiters() {
	for id, chs := range w.waiters {
		if in, err := w.s.Info(id); err == nil && in.State != tasklet.Paused {
			continue
		}
		for _, c := range chs {
			close(c)
		}
		delete(w.waiters, id)
	}
}
