package cluster

// Recovery from faults, and the states a cluster that cannot recover goes
// through. A worker that dies, or a start or restore that leaves no worker
// running, is a fault the monitor sees at its next tick (fault): it rolls
// the cluster back to the newest checkpoint. A rollback that fails leaves
// no worker either, so it is retried, with a growing pause between tries,
// up to maxFailedRollbacks times; then the cluster is down: Status says so
// ("down: rollback failed 5 times: ..."), periodic checkpoints stop, and
// Close returns ErrDown so `cluster up` exits non-zero. A successful
// `cluster restore` brings a down cluster back. No path leaves the
// coordinator alive with no worker and nobody told.

import (
	"fmt"
	"time"
)

// maxFailedRollbacks is how many rollbacks in a row may fail before the
// cluster is declared down.
const maxFailedRollbacks = 5

// rollbackBackoff is the pause before try n+1 after n failed rollbacks:
// 250 ms, doubling, at most 8 s.
func rollbackBackoff(n int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < n && d < 8*time.Second; i++ {
		d *= 2
	}
	return min(d, 8*time.Second)
}

// recovery is the monitor's record of failed rollbacks.
type recovery struct {
	failed  int
	retryAt time.Time
}

// recoverFrom rolls the cluster back after a fault, or waits for the next try.
// It reports whether the fault is dealt with (rollback done).
func (c *Coordinator) recoverFrom(r *recovery, node uint16, why string) bool {
	if time.Now().Before(r.retryAt) {
		return false
	}
	if r.failed == 0 { // after a failure, the state says that instead
		c.setState("rolling back to the newest checkpoint: " + why)
	}
	err := c.rollback(node, why)
	if err == nil {
		if r.failed > 0 {
			c.log.Warn("cluster: recovered", "after_failed_rollbacks", r.failed)
		}
		*r = recovery{}
		c.setState("")
		c.rolledBack()
		return true
	}
	if c.closed() {
		return false
	}
	r.failed++
	if r.failed >= maxFailedRollbacks {
		c.goDown(fmt.Errorf("rollback failed %d times: %w", r.failed, err))
		*r = recovery{}
		return false
	}
	wait := rollbackBackoff(r.failed)
	r.retryAt = time.Now().Add(wait)
	c.log.Error("cluster: rollback failed; trying again", "err", err, "attempt", r.failed, "of", maxFailedRollbacks, "next_in", wait)
	c.setState(fmt.Sprintf("recovering: rollback failed %d of %d times, next try in %v: %v", r.failed, maxFailedRollbacks, wait, err))
	return false
}

// setState records what the cluster is doing ("" for running).
func (c *Coordinator) setState(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = s
}

// goDown declares the cluster down: the monitor stops trying, and says so.
func (c *Coordinator) goDown(err error) {
	c.mu.Lock()
	c.down = err
	c.state = "down: " + err.Error()
	c.mu.Unlock()
	c.log.Error("cluster: THE CLUSTER IS DOWN: no worker runs; bring it back with `stackless cluster restore`, or stop it with `stackless cluster down`",
		"err", err)
}

// downErr is why the cluster is down (nil when it is not).
func (c *Coordinator) downErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}

// clearDown is called after a restore succeeded: the cluster runs again.
func (c *Coordinator) clearDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down, c.state = nil, ""
	c.ckptStats.clearFailures()
}

// rolledBack notes that the cluster runs a stored generation again: no work
// is unsaved, whatever checkpoints failed before.
func (c *Coordinator) rolledBack() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ckptStats.clearFailures()
}

// stateLocked is the state for Status; c.mu is held.
func (c *Coordinator) stateLocked() string {
	if c.state == "" {
		return "running"
	}
	return c.state
}
