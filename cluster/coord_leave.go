package cluster

// A worker asked to stop (SIGTERM, Ctrl-C) leaves the cluster without
// losing anything and without a rollback. Its tasklets cannot simply be
// migrated one by one: the channels it hosts, and the IDs of tasklets born
// on it, belong to its logical node, which must live on somewhere. So the
// coordinator does what a restore onto fewer workers does, from a
// checkpoint taken at that very moment: every worker stops at a step
// boundary, the barrier flushes what is in flight, every world is stored,
// and the cluster restarts from that generation without the worker that
// leaves (its worlds planned over the local workers and the live workers
// that joined over NATS, see rejoin.go; workers that joined over TCP join
// again empty and the balancer refills them). Nothing runs between the
// checkpoint and the restart, so no step is lost or done twice.

import (
	"context"
	"fmt"
)

// handleLeave hands the worlds of worker req.Node to the other workers and
// stops it (see above).
func (c *Coordinator) handleLeave(ctx context.Context, req leaveReq) (none, error) {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	w := c.workers[req.Node]
	switch {
	case c.closing:
		c.mu.Unlock()
		return none{}, ErrClosed
	case w == nil || !w.Ready:
		c.mu.Unlock()
		return none{}, fmt.Errorf("cluster: worker %d asks to leave, but it is not a ready worker of this cluster", req.Node)
	}
	m := c.localN
	if w.Local {
		m--
	}
	w.Leaving = true
	c.mu.Unlock()
	remotes := c.liveRemotes(req.Node) // the workers on other machines hold worlds too
	if m < 0 || m+len(remotes) < 1 {
		c.mu.Lock()
		w.Leaving = false
		c.mu.Unlock()
		return none{}, fmt.Errorf("cluster: worker %d cannot leave: it is the last worker, no one would hold its tasklets (stop the cluster with `stackless cluster down`)", req.Node)
	}
	c.log.Info("cluster: a worker leaves; handing its tasklets to the others", "node", req.Node)
	ws := c.readyWorkers()
	cp, err := c.checkpointLocked(ctx, false) // all stay paused: nothing runs until the restart
	if err == nil {
		var snap *clusterSnapshot
		if snap, err = c.load(ctx, cp.Gen); err == nil {
			_, err = c.restoreOnto(ctx, snap, m, remotes)
		}
	}
	if err != nil {
		c.mu.Lock()
		w.Leaving = false
		c.mu.Unlock()
		_ = c.resumeAll(ws)
		return none{}, fmt.Errorf("cluster: worker %d cannot leave cleanly: %w", req.Node, err)
	}
	c.mu.Lock()
	c.localN = m
	c.left++
	c.mu.Unlock()
	c.log.Info("cluster: the worker left; its tasklets run on the others", "node", req.Node, "generation", cp.Gen)
	return none{}, nil
}
