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

	"github.com/stackless-go/stackless/internal/shquote"
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

// A crash loop: a worker that dies soon after each rollback, because what
// the checkpoint holds kills it (a tasklet whose step exits the process,
// overflows its stack or exhausts its memory). Every rollback succeeds, so
// none counts as failed, and the cluster restarted its workers every
// second or so for good, with nothing said but a rising rollback count.
// From the crashLoopAfter-th fault in a row that comes within crashWindow
// of the rollback before it, the next rollback waits (crashBackoff) and
// the state says so, with how the worker died.
const (
	crashWindow    = 30 * time.Second
	crashLoopAfter = 3
	stateCrashLoop = "CRASH LOOP"
)

// crashBackoff is the wait before the rollback after the n-th quick fault
// in a row (n >= crashLoopAfter): 1 s, doubling, at most 30 s.
func crashBackoff(n int) time.Duration {
	d := time.Second
	for i := crashLoopAfter; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// recovery is the monitor's record of failed rollbacks.
type recovery struct {
	failed  int
	retryAt time.Time
	seen    bool      // the fault in hand was counted
	okAt    time.Time // when the last rollback succeeded
	quick   int       // faults in a row, each within crashWindow of the rollback before
	// quickBefore is quick of the fault the last rollback dealt with.
	quickBefore int
}

// calm notes a look that found no fault: a fault in hand that went away
// by other means (a restore) ends the count of quick ones.
func (r *recovery) calm() {
	if r.seen {
		*r = recovery{okAt: r.okAt}
	}
}

// recoverFrom rolls the cluster back after a fault, or waits for the next try.
// It reports whether the fault is dealt with (rollback done).
func (c *Coordinator) recoverFrom(r *recovery, node uint16, why string) bool {
	if !r.seen {
		r.seen = true
		r.quick = 0
		if !r.okAt.IsZero() && time.Since(r.okAt) < crashWindow {
			r.quick = r.quickBefore + 1
		}
		if r.quick >= crashLoopAfter {
			wait := crashBackoff(r.quick)
			r.retryAt = time.Now().Add(wait)
			c.mu.Lock()
			gen := c.lastGen
			c.mu.Unlock()
			c.log.Error("cluster: CRASH LOOP: the cluster keeps failing right after each rollback; waiting before the next", "faults", r.quick,
				"generation", gen, "why", why, "next_in", wait)
			c.setState(fmt.Sprintf(stateCrashLoop+": %d faults in a row, each within %v of a rollback to generation %d, the last: %s; rolling back again in %v. "+
				"If what that checkpoint holds kills its worker, restore an older generation (`stackless checkpoint ls %s`, then `stackless cluster restore GEN`)",
				r.quick, crashWindow, gen, why, wait, shquote.Quote(c.cfg.Dir)))
		}
	}
	if time.Now().Before(r.retryAt) {
		return false
	}
	if r.failed == 0 && r.quick < crashLoopAfter { // otherwise the state says more
		c.setState("rolling back to the newest checkpoint: " + why)
	}
	err := c.rollback(node, why)
	if err == nil {
		if r.failed > 0 {
			c.log.Warn("cluster: recovered", "after_failed_rollbacks", r.failed)
		}
		*r = recovery{okAt: time.Now(), quickBefore: r.quick}
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
