package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stackless-go/stackless/tasklet"
)

// MaxSpawn bounds the tasklets one spawn may make.
const MaxSpawn = 1 << 20

// SpawnRequest asks for Count tasklets of a registered spawnable kind.
type SpawnRequest struct {
	Kind   string
	Args   map[string]string
	Count  int
	Worker uint16 // put them all on this worker (0: the coordinator places them)
	Place  string // PlaceRoundRobin or PlaceLeastLoaded (default: the coordinator's)
}

// API is what both a Coordinator (in-process) and a Client (over the
// coordinator's socket) offer.
type API interface {
	Status(ctx context.Context) (Status, error)
	Spawn(ctx context.Context, req SpawnRequest) (SpawnResult, error)
	PS(ctx context.Context) ([]TaskletView, error)
	List(ctx context.Context, q ListQuery) (TaskletList, error)
	Inspect(ctx context.Context, id tasklet.ID) (TaskletView, error)
	Migrate(ctx context.Context, id tasklet.ID, to uint16) (MigrateResult, error)
	Kill(ctx context.Context, id tasklet.ID) (KillResult, error)
	Throw(ctx context.Context, id tasklet.ID, message string) (ThrowResult, error)
	Checkpoint(ctx context.Context) (CheckpointResult, error)
	Restore(ctx context.Context, gen uint64, workers int) (RestoreResult, error)
	Await(ctx context.Context, id tasklet.ID) (TaskletView, error)
}

var (
	_ API = (*Coordinator)(nil)
	_ API = (*Client)(nil)
)

// Status reports every worker's figures. A worker that does not answer
// within StatusWait is listed with WorkerStats.Err: the others' figures
// are what a hung worker's operator needs most.
func (c *Coordinator) Status(ctx context.Context) (Status, error) {
	ws := c.readyWorkers()
	st := Status{Dir: c.cfg.Dir, Uptime: time.Since(c.start)}
	var mu sync.Mutex
	c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		var s WorkerStats
		wctx, cancel := context.WithTimeout(ctx, StatusWait)
		defer cancel()
		if err := call(wctx, c.fc, w.Node, kindWStats, none{}, &s); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("did not answer within %v (a stopped or overloaded process; its link is dropped and the cluster rolled back once it stays silent for the keepalive)", StatusWait)
			}
			s = WorkerStats{Node: w.Node, Hosts: w.Hosts, Pid: w.Pid, Host: w.Host, Err: err.Error()}
		}
		mu.Lock()
		st.Workers = append(st.Workers, s)
		mu.Unlock()
		return nil
	})
	if err := ctx.Err(); err != nil {
		return Status{}, fmt.Errorf("cluster: status: %w", err)
	}
	slices.SortFunc(st.Workers, func(a, b WorkerStats) int { return cmp.Compare(a.Node, b.Node) })
	c.mu.Lock()
	st.Routes = maps.Clone(c.routes)
	st.LastGen, st.LastAt, st.Rollbacks, st.Migrations, st.Left = c.lastGen, c.lastAt, c.rollbacks, c.migrated, c.left
	st.State, st.Adopted, st.Note = c.stateLocked(), c.adopted, c.note
	st.Checkpoints, st.LastBytes, st.LastDuration = c.ckptStats.n, c.ckptStats.bytes, c.ckptStats.took
	st.CheckpointFailures, st.FailingSince, st.CheckpointErr = c.ckptStats.failed, c.ckptStats.since, c.ckptStats.lastErr
	if c.lease != nil {
		ld := c.lease.me
		st.Leader = &ld
	}
	c.mu.Unlock()
	return st, nil
}

// StatusWait is how long Status waits for each worker: one that does not
// answer (a stopped process, a hung link) is listed with WorkerStats.Err
// instead of holding up the answer, or failing it, until the keepalive
// drops its link.
const StatusWait = 2 * time.Second

// Spawn starts tasklets of a spawnable kind on the workers and takes a
// checkpoint, so they survive a rollback.
func (c *Coordinator) Spawn(ctx context.Context, req SpawnRequest) (SpawnResult, error) {
	if req.Count < 1 || req.Count > MaxSpawn {
		return SpawnResult{}, fmt.Errorf("cluster: spawn %q: count %d, need 1 to %d", req.Kind, req.Count, MaxSpawn)
	}
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return SpawnResult{}, fmt.Errorf("cluster: spawn %q not done: %w", req.Kind, ErrClosed)
	}
	if err := c.checkSpawn(ctx, req); err != nil {
		return SpawnResult{}, err
	}
	counts, err := c.placeSpawn(req)
	if err != nil {
		return SpawnResult{}, err
	}
	var res SpawnResult
	var mu sync.Mutex
	// Every worker holds its new tasklets paused until the checkpoint
	// below has taken them (every world pickled), then all resume at once:
	// otherwise the first workers run while the checkpoint works
	// (competing with it for the cores) and start the job ahead of the
	// others. Spawn returns once the generation holding them is stored.
	var held []uint16
	spawnOn := func(ctx context.Context, node uint16, k int) error {
		var got []Spawned
		r := spawnReq{Kind: req.Kind, Args: req.Args, Count: k, Hold: true}
		if err := call(ctx, c.fc, node, kindWSpawn, r, &got); err != nil {
			return err
		}
		mu.Lock()
		res.Tasklets = append(res.Tasklets, got...)
		held = append(held, node)
		mu.Unlock()
		return nil
	}
	// The first worker's spawn checks the kind and arguments: when it fails
	// nothing was spawned anywhere.
	nodes := slices.Sorted(maps.Keys(counts))
	if err := spawnOn(ctx, nodes[0], counts[nodes[0]]); err != nil {
		return SpawnResult{}, err
	}
	var rest []*workerRef
	for _, w := range c.readyWorkers() {
		if w.Node != nodes[0] && counts[w.Node] > 0 {
			rest = append(rest, w)
		}
	}
	err = c.forAll(ctx, rest, func(ctx context.Context, w *workerRef) error { return spawnOn(ctx, w.Node, counts[w.Node]) })
	slices.SortFunc(res.Tasklets, func(a, b Spawned) int { return cmp.Compare(a.ID, b.ID) })
	if err != nil {
		c.resumeHeld(held)
		return res, fmt.Errorf("cluster: spawn %q: %d of %d tasklets started: %w", req.Kind, len(res.Tasklets), req.Count, err)
	}
	cp, err := c.checkpointLocked(ctx, true)
	if err != nil {
		// The checkpoint resumes the workers it reached; one it failed
		// before (none ready) would stay held.
		c.resumeHeld(held)
		return res, fmt.Errorf("cluster: spawned %d tasklets, but the checkpoint after failed: %w", len(res.Tasklets), err)
	}
	res.Gen = cp.Gen
	return res, nil
}

// resumeHeld resumes the workers (nodes) a failed spawn left holding their
// new tasklets: they run, unsaved, as the error returned says. A worker
// that cannot be resumed is dead, and the monitor rolls the cluster back.
func (c *Coordinator) resumeHeld(nodes []uint16) {
	var ws []*workerRef
	for _, w := range c.readyWorkers() {
		if slices.Contains(nodes, w.Node) {
			ws = append(ws, w)
		}
	}
	_ = c.resumeAll(ws)
}

// placeSpawn decides how many tasklets each worker gets.
func (c *Coordinator) placeSpawn(req SpawnRequest) (map[uint16]int, error) {
	ws := c.readyWorkers()
	if len(ws) == 0 {
		return nil, fmt.Errorf("cluster: spawn %q: no worker is ready", req.Kind)
	}
	if req.Worker != 0 {
		for _, w := range ws {
			if w.Node == req.Worker {
				return map[uint16]int{w.Node: req.Count}, nil
			}
		}
		return nil, fmt.Errorf("cluster: spawn %q on worker %d: no such worker (see `stackless cluster status`)", req.Kind, req.Worker)
	}
	place := req.Place
	if place == "" {
		place = c.cfg.Place
	}
	counts := map[uint16]int{}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch place {
	case PlaceRoundRobin:
		for i := range req.Count {
			counts[ws[(c.rr+i)%len(ws)].Node]++
		}
		c.rr = (c.rr + req.Count) % len(ws)
	case PlaceLeastLoaded:
		loads := make([]workerLoad, len(ws))
		for i, w := range ws {
			loads[i] = c.loads[w.Node]
			loads[i].Node = w.Node
		}
		for range req.Count {
			i := leastLoaded(loads)
			counts[loads[i].Node]++
			loads[i].Tasklets++
		}
	default:
		return nil, fmt.Errorf("cluster: placement %q: use %s or %s", place, PlaceRoundRobin, PlaceLeastLoaded)
	}
	return counts, nil
}

// Inspect describes one tasklet, with its behavior's exported fields. Like
// PS, it does not run while a tasklet moves, which would hide it.
func (c *Coordinator) Inspect(ctx context.Context, id tasklet.ID) (TaskletView, error) {
	c.op.Lock()
	defer c.op.Unlock()
	return c.inspect(ctx, id)
}

// inspect is Inspect for callers that hold c.op.
func (c *Coordinator) inspect(ctx context.Context, id tasklet.ID) (TaskletView, error) {
	var v TaskletView
	ok := false
	var mu sync.Mutex
	ws := c.readyWorkers()
	if len(ws) == 0 {
		// Not ErrNoTasklet: the cluster is recovering (or down), and the
		// tasklet is in its checkpoint.
		c.mu.Lock()
		state := c.stateLocked()
		c.mu.Unlock()
		return v, fmt.Errorf("cluster: tasklet %v: no worker is ready (%s; see `stackless cluster status`)", id, state)
	}
	err := c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		var f found[TaskletView]
		if err := call(ctx, c.fc, w.Node, kindWInspect, idReq{ID: id}, &f); err != nil {
			return err
		}
		if f.Found {
			mu.Lock()
			v, ok = f.V, true
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	if !ok {
		return v, fmt.Errorf("cluster: tasklet %v: %w", id, ErrNoTasklet)
	}
	return v, nil
}

// Migrate moves a tasklet to another worker while it runs (ipc.Migrate):
// a blocked one keeps its place in every channel queue.
func (c *Coordinator) Migrate(ctx context.Context, id tasklet.ID, to uint16) (MigrateResult, error) {
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return MigrateResult{}, fmt.Errorf("cluster: migrate %v not done: %w", id, ErrClosed)
	}
	if !slices.ContainsFunc(c.readyWorkers(), func(w *workerRef) bool { return w.Node == to }) {
		return MigrateResult{}, fmt.Errorf("cluster: migrate %v to worker %d: no such worker (see `stackless cluster status`)", id, to)
	}
	v, err := c.inspect(ctx, id)
	if err != nil {
		return MigrateResult{}, err
	}
	if v.Worker == to {
		return MigrateResult{}, fmt.Errorf("cluster: migrate %v: it runs on worker %d already", id, to)
	}
	var res MigrateResult
	if err := call(ctx, c.fc, v.Worker, kindWMigrate, migrateReq{ID: id, To: to}, &res); err != nil {
		return res, fmt.Errorf("cluster: migrate %v from worker %d to %d: %w", id, v.Worker, to, err)
	}
	return res, nil
}

// Kill delivers tasklet.ErrKilled to a tasklet (wherever it runs) and takes
// a checkpoint, so a rollback does not bring it back.
func (c *Coordinator) Kill(ctx context.Context, id tasklet.ID) (KillResult, error) {
	return c.deliver(ctx, "kill", id, kindWKill, idReq{ID: id})
}

// Throw delivers an error with message to a tasklet's next step (wherever
// it runs), which may handle it or fail with it, and takes a checkpoint, so
// a rollback does not undo it.
func (c *Coordinator) Throw(ctx context.Context, id tasklet.ID, message string) (ThrowResult, error) {
	if message == "" {
		message = "thrown by the user"
	}
	return c.deliver(ctx, "throw into", id, kindWThrow, throwReq{ID: id, Message: message})
}

// deliver asks every worker to do kind to tasklet id; the one that holds it
// answers Found.
func (c *Coordinator) deliver(ctx context.Context, verb string, id tasklet.ID, kind string, req any) (KillResult, error) {
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return KillResult{}, fmt.Errorf("cluster: %s %v not done: %w", verb, id, ErrClosed)
	}
	var res KillResult
	ok := false
	var mu sync.Mutex
	err := c.forAll(ctx, c.readyWorkers(), func(ctx context.Context, w *workerRef) error {
		var f found[KillResult]
		if err := call(ctx, c.fc, w.Node, kind, req, &f); err != nil {
			return err
		}
		if f.Found {
			mu.Lock()
			res, ok = f.V, true
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("cluster: %s %v: %w", verb, id, ErrNoTasklet)
	}
	if kind == kindWKill {
		c.awaitGone(ctx, id, killSettle)
	}
	if _, err := c.checkpointLocked(ctx, true); err != nil {
		return res, fmt.Errorf("cluster: %s %v done, but the checkpoint after failed: %w", verb, id, err)
	}
	return res, nil
}

// killSettle bounds how long a kill waits for its tasklet to end.
const killSettle = time.Second

// awaitGone waits up to d for tasklet id to end. A killed tasklet dies at
// its next step, which its worker runs after answering the kill; a
// checkpoint taken before that still held it, and one killed because it
// could not be saved (a record over the limit) failed the kill's own
// checkpoint (TestFailingCheckpointsShowInStatus, under load).
func (c *Coordinator) awaitGone(ctx context.Context, id tasklet.ID, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := c.inspect(ctx, id); err != nil {
			return // gone (ErrNoTasklet), or no answer: the checkpoint says what it finds
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// Await waits until tasklet id pauses (a tasklet that holds a result parks
// itself with t.Pause) and returns it with its fields, wherever it moved
// meanwhile and across rollbacks. It fails with ErrNoTasklet when no worker
// holds the tasklet (it ended).
func (c *Coordinator) Await(ctx context.Context, id tasklet.ID) (TaskletView, error) {
	for {
		if err := ctx.Err(); err != nil {
			return TaskletView{}, fmt.Errorf("cluster: await %v: %w", id, err)
		}
		v, err := c.Inspect(ctx, id) // not during a restore, when workers come and go
		switch {
		case errors.Is(err, ErrNoTasklet):
			return v, err
		case err != nil:
			// A worker is going away: the monitor rolls back; try again.
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		case v.State == tasklet.Paused.String():
			return v, nil
		}
		var f found[TaskletView]
		err = call(ctx, c.fc, v.Worker, kindWAwait, awaitReq{ID: id, Timeout: time.Second}, &f)
		if err == nil && f.Found && f.V.State == tasklet.Paused.String() {
			return f.V, nil
		}
	}
}

// handleAwait serves Client.Await: it waits up to req.Timeout.
func (c *Coordinator) handleAwait(ctx context.Context, req awaitReq) (found[TaskletView], error) {
	ctx, cancel := context.WithTimeout(ctx, min(max(req.Timeout, 0), maxAwait))
	defer cancel()
	v, err := c.Await(ctx, req.ID)
	if errors.Is(err, ErrNoTasklet) {
		return found[TaskletView]{}, err
	}
	if err != nil {
		return found[TaskletView]{}, nil // not yet: the client asks again
	}
	return found[TaskletView]{Found: true, V: v}, nil
}
