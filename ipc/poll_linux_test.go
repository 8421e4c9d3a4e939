//go:build linux

package ipc

// The scheduler's polling of shared-memory rings within a node's life:
// input still gets through while a step holds the scheduler's goroutine.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// holder receives one value on In, then holds its scheduler's goroutine in
// its next step until hold is closed, as a long computation would.
type holder struct {
	In      channel.ID
	got     bool
	started chan struct{}
	hold    chan struct{}
}

func (h *holder) Step(t *tasklet.T) tasklet.Op {
	if !h.got {
		h.got = true
		return t.Recv(h.In)
	}
	close(h.started)
	<-h.hold
	return t.Exit()
}

// TestALongStepDoesNotStallTheLink: node 1's scheduler takes a value out of
// its ring while polling and then runs a step that does not return; a
// control call from node 2 meanwhile is still read (by the link's reader
// goroutine, once the poller has let the ring be for a while) and
// answered.
func TestALongStepDoesNotStallTheLink(t *testing.T) {
	spin := pollSpin
	pollSpin = time.Minute // node 1 polls until the value comes
	t.Cleanup(func() { pollSpin = spin })
	c := newCluster(t, 2, clusterConfig{unix: true})
	in := c.ch(0, 0)
	h := &holder{In: in, started: make(chan struct{}), hold: make(chan struct{})}
	defer close(h.hold)
	c.spawn(0, h)
	c.waitBalance(in, -1)
	c.nodes[0].Handle("echo", func(p []byte) ([]byte, error) { return p, nil })
	c.prog(1, "sender", send(in, 7))
	select {
	case <-h.started:
	case <-testCtx(t).Done():
		t.Fatal("the holder did not get its value")
	}
	c.on(1, func(*scheduler.Scheduler) {}) // node 2 is free
	out, err := c.nodes[1].Call(testCtx(t), 1, "echo", []byte("still there"))
	require.NoError(t, err)
	assert.Equal(t, "still there", string(out))
	select {
	case <-h.hold:
		t.Fatal("the step ended early")
	default:
	}
}

// TestABusySchedulerKeepsItsRings: once node 1's scheduler polls its ring
// (it took a value from node 2 there), it keeps the ring however long it
// then stays busy, taking frames between slices, so that node 2's writes
// signal nobody and no reader goroutine is woken for each batch.
func TestABusySchedulerKeepsItsRings(t *testing.T) {
	spin := pollSpin
	pollSpin = time.Minute // node 1 polls until the value comes
	t.Cleanup(func() { pollSpin = spin })
	c := newCluster(t, 2, clusterConfig{unix: true})
	in := c.ch(0, 0)
	c.prog(0, "recv", recv(in))
	c.waitBalance(in, -1)
	c.prog(1, "sender", send(in, 7))
	res := c.collect(2)
	assert.Equal(t, []int{7}, res["recv"].Got)
	n := c.nodes[0]
	var before, after, polled int
	c.on(0, func(*scheduler.Scheduler) {
		before = len(n.pl.links)
		for start := time.Now(); time.Since(start) < 2*time.Millisecond; {
		} // a slice of work far longer than any spin
		n.poll(scheduler.PollBusy)
		after = len(n.pl.links)
		for _, l := range n.pl.links {
			if l.shm.r.polled.Load() {
				polled++
			}
		}
	})
	assert.Positive(t, before, "the value came through the poller")
	assert.Equal(t, before, after, "the busy scheduler still polls its rings")
	assert.Equal(t, after, polled, "and the rings know it")
}
