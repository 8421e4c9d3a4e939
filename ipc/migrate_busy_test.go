package ipc

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// stalledConn blocks writes while stalled, as a peer that stopped
// reading does once the socket's buffers are full.
type stalledConn struct {
	net.Conn
	stalled atomic.Bool
	resume  chan struct{}
}

func (c *stalledConn) Write(b []byte) (int, error) {
	if c.stalled.Load() {
		<-c.resume
	}
	return c.Conn.Write(b)
}

func TestMovesThatWouldFillTheLinkAreRefusedNotFatal(t *testing.T) {
	// Twelve 40 KiB tasklets move at once over a link whose writer is
	// stuck and whose queue holds 256 KiB: before, the queue passed the
	// limit, the link closed and the moves in flight were lost with it.
	// Now a move that would take the queue past half the limit is refused
	// (the tasklet stays), the rest go once the writer moves again.
	c := newCluster(t, 2, clusterConfig{noLinks: true, nodeOpts: []Option{WithMaxQueued(256 << 10)}})
	ca, cb := net.Pipe()
	sc := &stalledConn{Conn: ca, resume: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := c.nodes[1].Connect(cb)
		errc <- err
	}()
	_, err := c.nodes[0].Connect(sc)
	require.NoError(t, errors.Join(err, <-errc))

	const moves = 12
	ids := make([]tasklet.ID, moves)
	c.on(0, func(s *scheduler.Scheduler) {
		for i := range ids {
			ids[i] = s.SpawnPaused(&Hopper{Name: strings.Repeat("x", 40<<10), N: 1})
		}
	})
	sc.stalled.Store(true)
	res := make(chan error, moves)
	for _, id := range ids {
		go func() { res <- c.nodes[0].Migrate(testCtx(t), id, 2) }()
	}
	var errs []error
	select {
	case err := <-res: // the refused return at once; the others wait for the writer
		errs = append(errs, err)
	case <-time.After(waitTime):
		t.Fatal("no move returned while the writer was stuck")
	}
	sc.stalled.Store(false)
	close(sc.resume)
	for len(errs) < moves {
		errs = append(errs, <-res)
	}
	busy := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		require.ErrorIs(t, err, ErrLinkBusy, "a move fails only as refused for a busy link")
		assert.ErrorContains(t, err, "WithMaxQueued")
		busy++
	}
	assert.Positive(t, busy, "some moves were refused")
	assert.Less(t, busy, moves, "some moves went")
	require.NotNil(t, c.nodes[0].link(2), "the link stays up")
	assert.False(t, c.nodes[0].link(2).isClosed())
	here, there := 0, 0
	c.on(0, func(s *scheduler.Scheduler) {
		for _, id := range ids {
			if s.Behavior(id) != nil {
				here++
			}
		}
	})
	c.waitFor("moved tasklets on node 2", func() bool {
		there = 0
		c.on(1, func(s *scheduler.Scheduler) {
			for _, id := range ids {
				if s.Behavior(id) != nil {
					there++
				}
			}
		})
		return there == moves-busy
	})
	assert.Equal(t, busy, here, "each refused tasklet is still on node 1, and only those")
}
