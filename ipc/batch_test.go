package ipc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// framesWatcher runs in the same slice as a tasklet that sent to node
// peer, and records whether peer received a frame within a while.
type framesWatcher struct {
	peer   *Node
	before uint64
	seen   bool
	done   chan struct{}
}

func (w *framesWatcher) Step(t *tasklet.T) tasklet.Op {
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline) && !w.seen; {
		w.seen = w.peer.Stats().FramesIn > w.before
	}
	close(w.done)
	return t.Exit()
}

func TestASliceSendsItsFramesWhenItEnds(t *testing.T) {
	c := newCluster(t, 2, clusterConfig{nodeOpts: []Option{WithKeepalive(0, 0)}})
	ch := c.ch(0, 0) // unbuffered: the send is an OP and waits for its DONE
	w := &framesWatcher{peer: c.nodes[0], before: c.nodes[0].Stats().FramesIn, done: make(chan struct{})}
	sent := &sendSeq{Out: ch, From: 7, To: 8, done: make(chan struct{})}
	c.on(1, func(s *scheduler.Scheduler) {
		s.Spawn(sent) // its OP is held ...
		s.Spawn(w)    // ... while this step of the same slice watches
	})
	waitClosed(t, w.done, "the watcher")
	assert.False(t, w.seen, "a frame left before the slice that sent it ended")
	c.prog(0, "recv", recv(ch))
	res := c.collect(1)
	assert.Equal(t, []int{7}, res["recv"].Got, "the held OP went out when the slice ended")
	waitClosed(t, sent.done, "the send")
}
