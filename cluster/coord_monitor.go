package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// monitor watches the workers, balances the load and checkpoints
// periodically, until the coordinator closes.
func (c *Coordinator) monitor() {
	defer c.bg.Done()
	every := c.cfg.BalanceEvery
	if every <= 0 {
		every = 250 * time.Millisecond // still watch for faults
	}
	tk := time.NewTicker(every)
	defer tk.Stop()
	lastCkpt := time.Now()
	var rec recovery
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
		if c.closed() {
			return
		}
		c.keepFiles() // for clients too, not only the workers a rollback starts
		if c.downErr() != nil {
			continue // said loudly once; `cluster restore` or `cluster down` decide
		}
		if node, why := c.settledFault(); why != "" {
			if c.recoverFrom(&rec, node, why) {
				lastCkpt = time.Now()
			}
			continue
		}
		rec.calm()
		if c.cfg.BalanceEvery > 0 {
			c.balance()
		}
		if c.cfg.CheckpointEvery > 0 && time.Since(lastCkpt) >= c.cfg.CheckpointEvery {
			ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
			if _, err := c.Checkpoint(ctx); err != nil && !c.closed() {
				c.log.Warn("cluster: periodic checkpoint failed", "err", err)
			}
			cancel()
			lastCkpt = time.Now()
		}
	}
}

// exitGrace is how long a fault waits for a local worker whose link went
// first to exit: a crashing worker's link often closes a moment before its
// exit is seen, and its exit status and last words say why it died, where
// "the link is gone" says nothing.
const exitGrace = 500 * time.Millisecond

// settledFault is fault, given a local worker whose link is gone up to
// exitGrace to exit, so that the fault names how it died.
func (c *Coordinator) settledFault() (uint16, string) {
	node, why := c.fault()
	if why == "" || node == 0 {
		return node, why
	}
	c.mu.Lock()
	var p *proc
	if w := c.workers[node]; w != nil {
		p = w.Proc
	}
	c.mu.Unlock()
	if p == nil || p.exited() {
		return node, why
	}
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-c.ctx.Done():
	}
	return c.fault()
}

// fault names a worker that died: a local process that exited without
// being told to, or a worker whose link is gone.
func (c *Coordinator) fault() (uint16, string) {
	peers := c.n.Peers()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.workers) == 0 && !c.closing {
		// A failed start, restore or rollback stopped every worker.
		return 0, "no worker runs"
	}
	for _, n := range sortedKeys(c.workers) {
		w := c.workers[n]
		if w.Proc != nil && w.Proc.exited() && !w.Proc.deliberate() {
			return n, fmt.Sprintf("worker %d (pid %d) died: %s", n, w.Proc.cmd.Process.Pid, w.Proc.describe())
		}
		if w.Ready && !slices.Contains(peers, n) {
			return n, fmt.Sprintf("the link to worker %d is gone", n)
		}
	}
	return 0, ""
}

// shedWithin is how long a shed starts moves for: half the second balance
// gives a round, so the shed answers with what it moved (the moves in
// flight take a round trip) before the call gives up and counts nothing.
const shedWithin = 500 * time.Millisecond

// balance samples every worker's load and, when the balancer says so,
// moves runnable tasklets from the busiest worker to the idlest. It skips
// the sample while another operation runs: a spawn seen half done (its
// tasklets on the first worker, not yet on the others) looks like an idle
// worker next to a busy one, and the balancer would record a move it
// could not make (its lock taken) and then hold back the way back for its
// cooldown.
func (c *Coordinator) balance() {
	if !c.op.TryLock() { // a checkpoint, spawn or restore runs: next time
		return
	}
	defer c.op.Unlock()
	ws := c.readyWorkers()
	ctx, cancel := context.WithTimeout(c.ctx, time.Second)
	defer cancel()
	var loads []workerLoad
	paused := false
	for _, w := range ws {
		var s WorkerStats
		if err := call(ctx, c.fc, w.Node, kindWStats, none{}, &s); err != nil {
			return // a dying worker: the fault check deals with it
		}
		paused = paused || s.Paused
		loads = append(loads, workerLoad{Node: w.Node, Runnable: s.Runnable, StepsPerSec: s.StepsPerSec, Tasklets: s.Tasklets})
	}
	c.mu.Lock()
	for _, l := range loads {
		c.loads[l.Node] = l
	}
	bal := c.bal
	c.mu.Unlock()
	if paused || len(loads) < 2 {
		return
	}
	mv, ok := bal.decide(time.Now(), loads)
	if !ok {
		return
	}
	var res shedResp
	if err := call(ctx, c.fc, mv.From, kindWShed, shedReq{To: mv.To, Count: mv.Count, Within: shedWithin}, &res); err != nil {
		c.log.Warn("cluster: balancing failed", "from", mv.From, "to", mv.To, "err", err)
		return
	}
	c.mu.Lock()
	c.migrated += len(res.Moved)
	c.mu.Unlock()
	c.log.Info("cluster: balanced", "from", mv.From, "to", mv.To, "asked", mv.Count, "moved", len(res.Moved))
}

func sortedKeys[V any](m map[uint16]V) []uint16 {
	return slices.Sorted(maps.Keys(m))
}
