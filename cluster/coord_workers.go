package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// stopGrace is how long a worker told to stop may take before it is killed.
const stopGrace = 5 * time.Second

// serveAll registers the coordinator's control handlers.
func (c *Coordinator) serveAll() {
	// Every call is bounded, so a hung worker cannot hold the cluster's
	// operation lock forever.
	limit := max(handlerTimeout, 3*c.cfg.StartTimeout)
	c.api = map[string]handler{}
	reg := func(kind string, h handler) {
		bounded := func(ctx context.Context, req []byte) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			return h(ctx, req)
		}
		serve(c.ctx, c.n, &c.blobs, kind, bounded)
		switch kind {
		case kindJoin, kindReady, kindLeave: // workers' kinds: ipc only
		default:
			c.api[kind] = bounded // clients' kinds: on NATS too (natsapi.go)
		}
	}
	c.n.Handle(kindChunk, c.blobs.chunk)
	reg(kindHello, jsonHandler(func(context.Context, none) (none, error) { return none{}, nil }))
	reg(kindJoin, jsonHandler(c.handleJoin))
	reg(kindReady, jsonHandler(c.handleReady))
	reg(kindLeave, jsonHandler(c.handleLeave))
	reg(kindStatus, jsonHandler(func(ctx context.Context, _ none) (Status, error) { return c.Status(ctx) }))
	reg(kindSpawn, jsonHandler(func(ctx context.Context, r spawnReq) (SpawnResult, error) {
		return c.Spawn(ctx, SpawnRequest{Kind: r.Kind, Args: r.Args, Count: r.Count, Worker: r.Worker, Place: r.Place})
	}))
	reg(kindList, jsonHandler(c.List))
	reg(kindInspect, jsonHandler(func(ctx context.Context, r idReq) (TaskletView, error) { return c.Inspect(ctx, r.ID) }))
	reg(kindMigrate, jsonHandler(func(ctx context.Context, r migrateReq) (MigrateResult, error) { return c.Migrate(ctx, r.ID, r.To) }))
	reg(kindKill, jsonHandler(func(ctx context.Context, r idReq) (KillResult, error) { return c.Kill(ctx, r.ID) }))
	reg(kindThrow, jsonHandler(func(ctx context.Context, r throwReq) (ThrowResult, error) { return c.Throw(ctx, r.ID, r.Message) }))
	reg(kindCheckpoint, jsonHandler(func(ctx context.Context, _ none) (CheckpointResult, error) { return c.Checkpoint(ctx) }))
	reg(kindRestore, jsonHandler(func(ctx context.Context, r restoreReq) (RestoreResult, error) {
		return c.Restore(ctx, r.Gen, r.Workers)
	}))
	reg(kindAwait, jsonHandler(c.handleAwait))
	reg(kindDown, jsonHandler(func(context.Context, none) (downResp, error) {
		if !c.startClosing() {
			return downResp{}, nil // a shutdown runs already: the caller waits for it
		}
		// The final checkpoint is taken before the reply, so that `cluster
		// down` can say whether it was stored: it said "cluster down",
		// exit 0, when it was not (a worker stopped or gone at shutdown).
		final := c.finalCheckpoint()
		go c.finishClose(final) // the reply goes out first; the caller waits for the socket to go
		var r downResp
		if final != nil {
			r.Final = final.Error()
		}
		return r, nil
	}))
}

// handleJoin tells a starting worker what to be: the placement it was
// started for, or (a worker joining over TCP) a new node with an empty world.
func (c *Coordinator) handleJoin(ctx context.Context, req joinReq) (joinResp, error) {
	if req.Node == 0 {
		// A TCP worker told to join again by a restore comes back at once:
		// it waits for the restore to end, which resets the node numbers
		// and the routes (the restore's own workers join while it runs).
		// The wait is bounded, so that joining workers cannot hold every
		// control slot; the worker retries a refusal.
		if !c.lockOpWithin(ctx, joinWait) {
			return joinResp{}, fmt.Errorf("cluster: the coordinator is busy (a restore runs): join again in a moment")
		}
		defer c.op.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return joinResp{}, ErrClosed
	}
	if req.Node != 0 {
		e := c.expect[req.Node]
		if e == nil || e.taken {
			if w := c.workers[req.Node]; w != nil {
				return joinResp{}, fmt.Errorf("cluster: worker %d has already joined (pid %d): this process (pid %d) is a second one started as worker %d; stop it: the coordinator starts and restarts its own workers", req.Node, w.Pid, req.Pid, req.Node)
			}
			return joinResp{}, fmt.Errorf("cluster: no worker %d is expected (a worker left over from an earlier start?)", req.Node)
		}
		if err := e.claims(req); err != nil {
			return joinResp{}, err
		}
		e.taken = true
		if w := c.workers[req.Node]; w != nil && e.token != "" {
			// A remote worker joining again as the restore asked: the
			// leader links it once its member entry says it is ready.
			w.Member, w.Pid, w.Host = req.Member, req.Pid, req.Host
			c.log.Info("cluster: a worker joins again over NATS as the restore planned", "node", req.Node, "host", req.Host, "pid", req.Pid)
		}
		resp := joinResp{Node: e.p.Node, Hosts: e.p.Hosts, OrphanAfter: c.cfg.OrphanAfter, Journal: c.journal != nil}
		if c.cfg.Listen != "" {
			resp.ListenTCP = tcpListenAddr(c.cfg.Listen)
		}
		resp.World = e.world
		// Where to journal and to store its world (none: the embedded server).
		resp.NATS, resp.NATSCreds = c.workerNATS()
		c.joinNames(&resp)
		return resp, nil
	}
	if c.nextNode == 0 || c.nextNode > maxWorkerNode {
		return joinResp{}, fmt.Errorf("cluster: out of node numbers for a new worker")
	}
	node := c.nextNode
	c.nextNode++
	// Its route is added once it is ready (handleReady): pushed before,
	// every worker would wait for a link to it that may come late or never.
	c.workers[node] = &workerRef{Node: node, Hosts: []uint16{node}, Pid: req.Pid, Host: req.Host, Member: req.Member}
	how := "TCP"
	if req.Member != "" {
		how = "NATS"
	}
	c.log.Info("cluster: a worker joins over "+how, "node", node, "host", req.Host, "pid", req.Pid)
	resp := joinResp{Node: node, Hosts: []uint16{node}, OrphanAfter: c.cfg.OrphanAfter, Journal: c.journal != nil}
	c.joinNames(&resp)
	return resp, nil
}

// joinNames puts in a join answer the buckets of this cluster (its name in
// each) that the worker uses on NATS.
func (c *Coordinator) joinNames(resp *joinResp) {
	resp.JournalBucket, resp.CkptBucket, resp.MembersBucket = c.gs.names.Journal, c.gs.names.Ckpt, c.gs.names.Members
}

// handleReady records a worker whose node is up. A worker of the current
// start is integrated by the start itself; one that joined later (over
// TCP) is linked, routed and resumed here.
func (c *Coordinator) handleReady(_ context.Context, req readyReq) (none, error) {
	c.mu.Lock()
	w := c.workers[req.Node]
	if w == nil || c.closing {
		c.mu.Unlock()
		return none{}, fmt.Errorf("cluster: worker %d is not part of this cluster (any more)", req.Node)
	}
	w.HostID, w.Unix, w.TCP, w.Marker, w.Pid, w.Host, w.Store = req.HostID, req.Unix, req.TCP, req.Marker, req.Pid, req.Host, req.Store
	_, started := c.expect[req.Node]
	if started {
		w.Ready = true
	}
	c.mu.Unlock()
	if started {
		c.signalReady()
		return none{}, nil
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.op.Lock()
		defer c.op.Unlock()
		// Ready, and routed, only now: an integration of another worker
		// that joined at the same time must neither link to this one nor
		// make every worker wait for a link to it.
		c.mu.Lock()
		if c.workers[req.Node] != w {
			c.mu.Unlock()
			return // sent away or replaced by a restore meanwhile
		}
		w.Ready = true
		c.routes[req.Node] = req.Node
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.StartTimeout)
		defer cancel()
		if err := c.integrate(ctx, []uint16{req.Node}); err != nil {
			c.log.Warn("cluster: a joining worker could not be linked in; it is sent away", "node", req.Node, "err", err)
			c.dropJoined(req.Node, err)
		}
	}()
	return none{}, nil
}

// joinWait bounds how long a joining TCP worker waits for a cluster-wide
// operation (a restore) to end.
const joinWait = 10 * time.Second

// lockOpWithin takes c.op, waiting at most d.
func (c *Coordinator) lockOpWithin(ctx context.Context, d time.Duration) bool {
	if c.op.TryLock() {
		return true
	}
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case <-tk.C:
			if c.op.TryLock() {
				return true
			}
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// dropJoined sends away a worker that joined over TCP but could not be
// linked in: kept, it would make every checkpoint fail. It holds no
// tasklet yet (it starts empty and paused). The caller holds c.op.
func (c *Coordinator) dropJoined(node uint16, why error) {
	c.mu.Lock()
	w := c.workers[node]
	delete(c.workers, node)
	delete(c.routes, node)
	c.mu.Unlock()
	if w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	_ = call(ctx, c.fc, node, kindWStop, stopReq{Refuse: why.Error()}, nil)
	if err := c.pushRoutes(ctx); err != nil {
		c.log.Warn("cluster: push the routes after sending a worker away", "node", node, "err", err)
	}
}

// signalReady wakes startLocal: a worker became ready or exited.
func (c *Coordinator) signalReady() {
	select {
	case c.readyCh <- struct{}{}:
	default:
	}
}

// startLocal starts the worker processes of placements ps and waits until
// every one, and every remote worker of rs (told to join again by
// stopWorkersKeeping), has joined and said it is ready.
func (c *Coordinator) startLocal(ctx context.Context, ps []placement, worlds []*worldPart, rs []reservation) error {
	c.mu.Lock()
	for i, p := range ps {
		c.expect[p.Node] = &expected{p: p, world: worlds[i]}
		c.workers[p.Node] = &workerRef{Node: p.Node, Hosts: p.Hosts, Local: true}
	}
	c.mu.Unlock()
	c.keepFiles()
	for _, p := range ps {
		cmd, err := c.cfg.WorkerCommand(p.Node)
		if err != nil {
			return err
		}
		pr, err := startProc(p.Node, cmd, c.cfg.Output, c.cfg.Output)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.workers[p.Node].Proc = pr
		c.mu.Unlock()
		go func() { // a worker that dies while starting ends the wait below
			<-pr.done
			c.signalReady()
		}()
	}
	all := slices.Clone(ps)
	for _, r := range rs {
		all = append(all, r.e.p)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	for {
		c.mu.Lock()
		var waiting, away []uint16
		var dead error
		for _, p := range all {
			w := c.workers[p.Node]
			switch {
			case w == nil:
				dead = fmt.Errorf("cluster: worker %d was sent away while starting (it could not be linked; see the log)", p.Node)
			case w.Proc != nil && w.Proc.exited():
				dead = fmt.Errorf("cluster: worker %d exited while starting (%s); its output is above", p.Node, w.Proc.describe())
			case !w.Ready && !w.Local:
				away = append(away, p.Node)
			case !w.Ready:
				waiting = append(waiting, p.Node)
			}
		}
		c.mu.Unlock()
		if dead != nil {
			return dead
		}
		if len(waiting) == 0 && len(away) == 0 {
			c.mu.Lock()
			for _, p := range all {
				delete(c.expect, p.Node)
			}
			c.mu.Unlock()
			return nil
		}
		select {
		case <-c.readyCh:
		case <-ctx.Done():
			var errs []error
			if len(waiting) > 0 {
				errs = append(errs, fmt.Errorf("cluster: workers %v did not start within %v: %w", waiting, c.cfg.StartTimeout, ctx.Err()))
			}
			if len(away) > 0 {
				errs = append(errs, fmt.Errorf("cluster: workers %v on other machines (joined over NATS, told to join again as these nodes) did not come back within %v (Config.StartTimeout), so no worker runs now: check their machine and its NATS connection, then run `stackless cluster restore` again (a worker that is gone is no longer counted): %w",
					away, c.cfg.StartTimeout, ctx.Err()))
			}
			return errors.Join(errs...)
		}
	}
}

// integrate links new workers into the mesh (each dials the ready workers
// that have a smaller node, or all of them), pushes the routing table to
// everyone, and resumes the new workers. The caller holds c.op.
func (c *Coordinator) integrate(ctx context.Context, nodes []uint16) error {
	ready := c.readyWorkers()
	isNew := map[uint16]bool{}
	for _, n := range nodes {
		isNew[n] = true
	}
	var addrs []peerAddr
	for _, w := range ready {
		addrs = append(addrs, peerAddr{Node: w.Node, HostID: w.HostID, Unix: w.Unix, TCP: w.TCP, Marker: w.Marker})
	}
	// The new ones dial the old ones, and among themselves the larger node
	// dials the smaller, so every pair links once.
	for _, w := range ready {
		if !isNew[w.Node] {
			continue
		}
		var dial []peerAddr
		for _, a := range addrs {
			if a.Node != w.Node && (!isNew[a.Node] || a.Node < w.Node) {
				dial = append(dial, a)
			}
		}
		if err := call(ctx, c.fc, w.Node, kindWPeers, peersReq{Peers: dial}, nil); err != nil {
			return err
		}
	}
	if err := c.pushRoutes(ctx); err != nil {
		return err
	}
	return c.forAll(ctx, ready, func(ctx context.Context, w *workerRef) error {
		if !isNew[w.Node] {
			return nil
		}
		return call(ctx, c.fc, w.Node, kindWResume, none{}, nil)
	})
}

// pushRoutes sends the routing table to every ready worker.
func (c *Coordinator) pushRoutes(ctx context.Context) error {
	c.mu.Lock()
	routes := maps.Clone(c.routes)
	c.mu.Unlock()
	return c.forAll(ctx, c.readyWorkers(), func(ctx context.Context, w *workerRef) error {
		return call(ctx, c.fc, w.Node, kindWRoute, routeReq{Routes: routes}, nil)
	})
}

// forAll runs fn for every worker at once and joins their errors.
func (c *Coordinator) forAll(ctx context.Context, ws []*workerRef, fn func(context.Context, *workerRef) error) error {
	errs := make([]error, len(ws))
	done := make(chan struct{})
	for i, w := range ws {
		go func() {
			defer func() { done <- struct{}{} }()
			errs[i] = fn(ctx, w)
		}()
	}
	for range ws {
		<-done
	}
	return errors.Join(errs...)
}

// stopWorkers stops every worker: local ones end (killed after stopGrace),
// TCP ones are told to join again when rejoin is set, or to stop. Their
// sockets are removed.
func (c *Coordinator) stopWorkers(rejoin bool) { c.stopWorkersKeeping(rejoin, nil) }

// stopWorkersKeeping is stopWorkers that first keeps the placements of rs
// (expected, and a worker entry each), then tells each remote worker of
// rs to join again as its placement: its join may come before the others
// have stopped.
func (c *Coordinator) stopWorkersKeeping(rejoin bool, rs []reservation) {
	c.mu.Lock()
	ws := slices.Collect(maps.Values(c.workers))
	c.workers = map[uint16]*workerRef{}
	c.expect = map[uint16]*expected{}
	as := map[uint16]*expected{}
	for _, r := range rs {
		c.expect[r.e.p.Node] = r.e
		c.workers[r.e.p.Node] = &workerRef{Node: r.e.p.Node, Hosts: r.e.p.Hosts}
		as[r.from] = r.e
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	peers := c.n.Peers()
	_ = c.forAll(ctx, ws, func(ctx context.Context, w *workerRef) error {
		// A worker that cannot be told (its link is gone) would wait for a
		// coordinator to adopt it: end it at once.
		grace := time.Duration(0)
		if w.Ready && slices.Contains(peers, w.Node) {
			req := stopReq{Rejoin: rejoin && !w.Local && !w.Leaving && !w.Foreign}
			if e := as[w.Node]; e != nil && req.Rejoin {
				req.As, req.Token = e.p.Node, e.token
			}
			_ = call(ctx, c.fc, w.Node, kindWStop, req, nil)
			grace = stopGrace
		}
		if w.Proc != nil {
			if err := w.Proc.stop(grace); err != nil {
				c.log.Warn("cluster: stop worker", "node", w.Node, "err", err)
			}
		}
		if w.Adopted {
			if err := stopPid(w.Pid, w.Start, grace); err != nil {
				c.log.Warn("cluster: stop adopted worker", "node", w.Node, "pid", w.Pid, "err", err)
			}
		}
		if w.Local {
			// The worker has ended; its files may be another's: a worker of
			// an earlier coordinator, stopped (SIGSTOP), that kept this
			// one from starting. The next start must find them, to name it.
			_ = removeStaleSocket(c.layout.Worker(w.Node))
			removeRecord(c.layout.Record(w.Node))
		}
		return nil
	})
}

// removeRecord removes a worker record unless it is a live worker's own.
func removeRecord(path string) {
	if r, err := readRecord(path); err == nil && r.writerRuns() {
		return
	}
	_ = os.Remove(path)
}

// workerNATS is the NATS servers and credentials file local workers are
// told to use: those of Config.NATS, or none (the embedded server, which
// they find through DIR/nats.url).
func (c *Coordinator) workerNATS() (url, creds string) {
	if c.cfg.NATS == "" {
		return "", ""
	}
	creds = c.cfg.NATSCreds
	if abs, err := filepath.Abs(creds); err == nil && creds != "" {
		creds = abs
	}
	return c.cfg.NATS, creds
}
