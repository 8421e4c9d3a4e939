package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stackless-go/stackless/ipc"
)

// maxFlushRounds bounds the FLUSH phase of a checkpoint barrier.
const maxFlushRounds = 64

// Checkpoint takes a consistent checkpoint of the whole cluster now.
func (c *Coordinator) Checkpoint(ctx context.Context) (CheckpointResult, error) {
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return CheckpointResult{}, fmt.Errorf("cluster: checkpoint not taken: %w", ErrClosed)
	}
	return c.checkpointLocked(ctx, true)
}

// checkpointLocked runs the barrier (see barrier.go) and stores every
// world in one generation. The caller holds c.op. With resume, workers are
// resumed whatever happens; without (the final checkpoint), they stay
// paused so the stored state is the last one.
func (c *Coordinator) checkpointLocked(ctx context.Context, resume bool) (CheckpointResult, error) {
	// The workers store their worlds themselves and retry a store that
	// does not answer: watching the store here too ends their part at
	// once when it broke (a full disk), not at ctx's deadline.
	wctx, unwatch := watchStore(ctx, c.storeCheck())
	defer unwatch()
	res, err := c.checkpointWatched(wctx, resume)
	if cause := context.Cause(wctx); err != nil && errors.Is(cause, ErrStoreBroken) && !errors.Is(err, ErrStoreBroken) {
		err = fmt.Errorf("%w (%v)", cause, err)
	}
	if err != nil && resume && workerLost(err) { // the final one (no resume) says it its own way
		c.mu.Lock()
		last := c.lastGen
		c.mu.Unlock()
		err = workerLostError(err, last)
	}
	if err != nil {
		c.mu.Lock()
		c.ckptStats.noteFailed(err)
		c.mu.Unlock()
	}
	return res, err
}

// workerLost reports whether err is a worker's link gone.
func workerLost(err error) bool {
	return errors.Is(err, ipc.ErrLinkDown) || errors.Is(err, ipc.ErrNoRoute)
}

// workerLostError is a checkpoint's error when a worker's link went down
// in the middle of it (a worker killed while its world was being stored
// said only "ipc: link to the node went down"): what became of the
// generation and of the cluster, and what to do.
func workerLostError(err error, last uint64) error {
	return fmt.Errorf("%w; a worker went away during the checkpoint, so it was not committed: generation %d stays the newest and the cluster rolls back to it "+
		"(see `stackless cluster status`); checkpoint again once the status shows the cluster running", err, last)
}

func (c *Coordinator) checkpointWatched(ctx context.Context, resume bool) (CheckpointResult, error) {
	ws := c.readyWorkers()
	if len(ws) == 0 {
		c.mu.Lock()
		state := c.stateLocked()
		c.mu.Unlock()
		return CheckpointResult{}, fmt.Errorf("cluster: checkpoint: no worker is ready (%s); see `stackless cluster status` and checkpoint again once it shows the workers running", state)
	}
	c.mu.Lock()
	c.epoch++
	epoch := c.epoch
	c.mu.Unlock()
	var peers []peerAddr
	for _, w := range ws {
		peers = append(peers, peerAddr{Node: w.Node, Marker: w.Marker})
	}
	t0 := time.Now()
	res := CheckpointResult{Workers: len(ws)}
	resumed := false
	// Resume the workers once every world is pickled, and after a failure
	// before that: a worker that cannot be resumed is dead, and the monitor
	// rolls the cluster back.
	resumeAll := func() {
		if resume && !resumed {
			resumed = c.resumeAll(ws) == nil
		}
	}
	defer resumeAll()

	before, err := c.collectSent(ctx, ws, kindWPause, none{})
	if err != nil {
		return res, fmt.Errorf("cluster: checkpoint: pause: %w", err)
	}
	tPause := time.Since(t0)
	markers := uint64(len(ws) - 1) // frames each worker sends per round: one marker per peer
	res.Rounds, err = flushRounds(ctx, maxFlushRounds, before, func(ctx context.Context, r uint32) (map[uint16]uint64, error) {
		req := markReq{Epoch: epoch, Round: r, Peers: peers}
		if err := c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
			return call(ctx, c.fc, w.Node, kindWMark, req, nil)
		}); err != nil {
			return nil, err
		}
		sent, err := c.collectSent(ctx, ws, kindWDrain, req)
		if err != nil {
			return nil, err
		}
		for n := range sent {
			sent[n] -= markers * uint64(r) // markers are not messages of the world
		}
		return sent, nil
	})
	if err != nil {
		return res, fmt.Errorf("cluster: checkpoint: flush: %w", err)
	}
	tFlush := time.Since(t0)
	gen, err := c.gs.nextGen(ctx)
	if err != nil {
		return res, fmt.Errorf("cluster: checkpoint: take a generation number in %s: %w", c.gs.where, err)
	}
	m, err := c.snapshotAll(ctx, ws, gen, func() {
		res.Paused = time.Since(t0)
		resumeAll()
	})
	if err != nil {
		return res, fmt.Errorf("cluster: checkpoint: snapshot: %w", err)
	}
	for _, w := range m.Worlds {
		res.Bytes += int(w.Size)
	}
	c.mu.Lock()
	m.NextNode = c.nextNode
	c.mu.Unlock()
	if err := c.commit(ctx, m); err != nil {
		return res, err
	}
	res.Gen = gen
	c.mu.Lock()
	c.lastGen, c.lastAt = gen, m.Time
	c.ckptStats.note(res.Bytes, time.Since(t0))
	c.mu.Unlock()
	c.trimJournal()
	c.log.Info("cluster: checkpoint", "generation", gen, "workers", len(ws), "rounds", res.Rounds, "bytes", res.Bytes, "paused", res.Paused,
		"pause", tPause, "flush", tFlush)
	return res, nil
}

// resumeAll resumes the workers ws, each asked whatever the others answer,
// and joins their errors.
func (c *Coordinator) resumeAll(ws []*workerRef) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		return call(ctx, c.fc, w.Node, kindWResume, none{}, nil)
	})
}

// collectSent calls kind on every worker and gathers their sent counts.
func (c *Coordinator) collectSent(ctx context.Context, ws []*workerRef, kind string, req any) (map[uint16]uint64, error) {
	out := map[uint16]uint64{}
	var mu sync.Mutex
	err := c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		var r sentResp
		if err := call(ctx, c.fc, w.Node, kind, req, &r); err != nil {
			return err
		}
		mu.Lock()
		out[w.Node] = r.Sent
		mu.Unlock()
		return nil
	})
	return out, err
}

// Restore stops the cluster and starts it again from generation gen (0:
// the newest) on m workers (0: as many as run now). The workers on other
// machines that joined over NATS and are alive are all used (see
// rejoin.go); the leader starts the rest, m minus their number, itself.
func (c *Coordinator) Restore(ctx context.Context, gen uint64, m int) (RestoreResult, error) {
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return RestoreResult{}, fmt.Errorf("cluster: restore not done: %w", ErrClosed)
	}
	if m < 0 || m > maxWorkerNode {
		return RestoreResult{}, fmt.Errorf("cluster: restore onto %d workers: need 1 to %d", m, maxWorkerNode)
	}
	if err := checkDescriptors(m); err != nil {
		return RestoreResult{}, err
	}
	remotes := c.liveRemotes(0)
	c.mu.Lock()
	local := c.localN
	c.mu.Unlock()
	now := local
	if m != 0 {
		local = m - len(remotes)
	}
	if local < 0 {
		return RestoreResult{}, fmt.Errorf("%w: restore onto %d workers, but %d workers on other machines (%v) joined over NATS and are all used; give at least %d, or stop some of them on their machines",
			ErrTooFewWorkers, m, len(remotes), nodesOf(remotes), len(remotes))
	}
	if limit, used := taskLimit(); limit > 0 {
		if err := checkMoreTasks(now, local, len(remotes), limit, used); err != nil {
			return RestoreResult{}, err
		}
	}
	var snap *clusterSnapshot
	var err error
	if gen == 0 {
		snap, err = c.loadNewest(ctx)
	} else {
		snap, err = c.load(ctx, gen)
	}
	if err != nil {
		return RestoreResult{}, err
	}
	res, err := c.restoreOnto(ctx, snap, local, remotes)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	c.localN = local
	c.mu.Unlock()
	c.clearDown()
	return res, nil
}

// ErrTooFewWorkers: a restore was asked for fewer workers than there are
// workers on other machines, which it cannot stop (they are all used).
var ErrTooFewWorkers = errors.New("cluster: fewer workers than run on other machines")

// restoreLocked replaces every worker with m new local workers running
// snap (see restoreOnto).
func (c *Coordinator) restoreLocked(ctx context.Context, snap *clusterSnapshot, m int) (RestoreResult, error) {
	return c.restoreOnto(ctx, snap, m, nil)
}

// restoreOnto replaces every worker with local new local workers and the
// remote workers remotes (told to join again, see rejoin.go), running
// snap across all of them. Every world is decoded and prepared before
// anything stops: a generation this program cannot load leaves the
// running cluster alone. The caller holds c.op.
func (c *Coordinator) restoreOnto(ctx context.Context, snap *clusterSnapshot, local int, remotes []*workerRef) (RestoreResult, error) {
	ps, next, err := plan(snap, local+len(remotes))
	if err != nil {
		return RestoreResult{}, err
	}
	worlds, err := prepareWorlds(c.reg, snap, ps)
	if err != nil {
		return RestoreResult{}, err
	}
	c.dropStaged(ctx)
	parts, unstage, err := c.stageWorlds(ctx, snap, ps, worlds)
	if err != nil {
		return RestoreResult{}, err
	}
	defer unstage() // the workers have read their worlds once they are ready
	rs, localPs, localParts := reserve(ps, parts, remotes)
	c.stopWorkersKeeping(true, rs)
	c.mu.Lock()
	c.routes = routesOf(ps)
	c.nextNode = next
	c.loads = map[uint16]workerLoad{}
	c.bal = newBalancer()
	c.mu.Unlock()
	if err := c.startLocal(ctx, localPs, localParts, rs); err != nil {
		c.stopWorkers(true)
		return RestoreResult{}, err
	}
	nodes := make([]uint16, len(ps))
	for i, p := range ps {
		nodes[i] = p.Node
	}
	if err := c.integrate(ctx, nodes); err != nil {
		c.stopWorkers(true)
		return RestoreResult{}, err
	}
	var remote []uint16
	for _, r := range rs {
		remote = append(remote, r.e.p.Node)
	}
	slices.Sort(remote)
	c.mu.Lock()
	if snap.Gen != 0 {
		c.lastGen, c.lastAt = snap.Gen, snap.Time
	}
	routes := maps.Clone(c.routes)
	c.mu.Unlock()
	c.log.Info("cluster: restored", "generation", snap.Gen, "from_workers", len(snap.Worlds), "workers", nodes, "remote", remote, "routes", routes)
	return RestoreResult{Gen: snap.Gen, From: len(snap.Worlds), Workers: nodes, Remote: remote}, nil
}

// rollback restores the newest checkpoint onto as many local workers as
// before and the workers on other machines that are still alive, after
// worker `node` died.
func (c *Coordinator) rollback(node uint16, why string) error {
	c.op.Lock()
	defer c.op.Unlock()
	if c.closed() {
		return ErrClosed
	}
	if n, still := c.fault(); still == "" || n != node {
		return nil // a restore replaced the workers meanwhile
	}
	c.mu.Lock()
	c.rollbacks++
	m := c.localN
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 2*c.cfg.StartTimeout)
	defer cancel()
	snap, err := c.loadNewest(ctx)
	if err != nil {
		return fmt.Errorf("cluster: roll back after %s: %w", why, err)
	}
	remotes := c.liveRemotes(node)
	c.log.Warn("cluster: rolling the whole cluster back to the last consistent checkpoint", "why", why, "generation", snap.Gen,
		"local_workers", m, "remote_workers", nodesOf(remotes))
	if _, err := c.restoreOnto(ctx, snap, m, remotes); err != nil {
		return fmt.Errorf("cluster: roll back to generation %d after %s: %w", snap.Gen, why, err)
	}
	return nil
}

// nodesOf lists the nodes of ws.
func nodesOf(ws []*workerRef) []uint16 {
	out := make([]uint16, len(ws))
	for i, w := range ws {
		out[i] = w.Node
	}
	return out
}

// ckptStats is what status reports of the checkpoints taken (c.mu): the
// newest one stored, and the ones that failed since, so that a cluster
// whose every checkpoint fails (a tasklet grown past the record limit, a
// full disk) says so in status, not only in the coordinator's log.
type ckptStats struct {
	n     int
	bytes int
	took  time.Duration

	failed  int       // in a row, since the newest one stored
	since   time.Time // when the first of them failed
	lastErr string    // the newest one's error
}

func (s *ckptStats) note(bytes int, took time.Duration) {
	s.n, s.bytes, s.took = s.n+1, bytes, took
	s.clearFailures()
}

// clearFailures: the state running is a stored generation again.
func (s *ckptStats) clearFailures() { s.failed, s.since, s.lastErr = 0, time.Time{}, "" }

func (s *ckptStats) noteFailed(err error) {
	if s.failed == 0 {
		s.since = time.Now()
	}
	s.failed++
	s.lastErr = err.Error()
}
