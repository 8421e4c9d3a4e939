//go:build linux

package ipc

// The scheduler's polling of shared-memory rings within a node's life:
// input still gets through while a step holds the scheduler's goroutine.

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// pollingPair is two nodes linked over shared memory whose schedulers,
// idle, poll their rings until input comes (pollSpin a minute), and a
// rendezvous channel homed at node 1.
func pollingPair(t *testing.T) (*cluster, channel.ID) {
	spin := pollSpin
	pollSpin = time.Minute
	t.Cleanup(func() { pollSpin = spin })
	c := newCluster(t, 2, clusterConfig{unix: true})
	return c, c.ch(0, 0)
}

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
	c, in := pollingPair(t)
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

// TestABusySchedulerKeepsItsRingsWhileTheyBringFrames: once node 1's
// scheduler polls its ring (it took a value from node 2 there), it keeps
// the ring after a long slice of work if a frame came by its end (node 2's
// writes then signal nobody), and gives it back to the reader goroutine,
// whose messages end a slice at once, after a slice as long in which
// nothing came.
func TestABusySchedulerKeepsItsRingsWhileTheyBringFrames(t *testing.T) {
	c, in := pollingPair(t)
	c.prog(0, "recv", recv(in))
	c.waitBalance(in, -1)
	c.prog(1, "sender", send(in, 7))
	res := c.collect(2)
	assert.Equal(t, []int{7}, res["recv"].Got)
	n := c.nodes[0]
	// busy is a slice of work longer than pollBusyFor, at whose end node 2
	// sends another value if withFrame; then the slice ends (PollBusy) as
	// soon as the frame is in the ring, before the link's reader goroutine
	// (which looks every pollFallback) could take it. It reports how many
	// rings were polled before and after, and whether the ring knows.
	busy := func(withFrame bool) (before, after int, polled bool) {
		c.on(0, func(*scheduler.Scheduler) {
			before = len(n.pl.links)
			r := n.pl.links[0].shm.r
			start := time.Now()
			for time.Since(start) < 2*pollBusyFor {
				runtime.Gosched() // node 2's goroutines share this process's two Ps
			}
			if withFrame {
				sender := &Prog{Name: "sender2", Code: []Instr{send(in, 8)}, Results: c.resCh}
				c.scheds[c.at(1)].Do(func(s *scheduler.Scheduler) { s.Spawn(sender) })
				for !r.pending() && time.Since(start) < waitTime {
					runtime.Gosched()
				}
			}
			n.poll(scheduler.PollBusy)
			after, polled = len(n.pl.links), r.polled.Load()
		})
		return before, after, polled
	}
	before, after, polled := busy(true)
	require.Equal(t, 1, before, "the value came through the poller")
	assert.Equal(t, 1, after, "a ring that brought a frame stays the poller's")
	assert.True(t, polled, "and the ring knows it")
	before, after, polled = busy(false)
	assert.Equal(t, 1, before)
	assert.Zero(t, after, "a ring that brought nothing goes back to its reader")
	assert.False(t, polled)
}
