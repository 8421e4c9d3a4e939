package ipc

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// gate holds back what a connection reads while it is shut, as a link
// whose reader is slow (descheduled, or its machine loaded) would.
type gate struct {
	mu   sync.Mutex
	open *sync.Cond
	shut bool
}

func newGate() *gate {
	g := &gate{}
	g.open = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(shut bool) {
	g.mu.Lock()
	g.shut = shut
	g.mu.Unlock()
	g.open.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.shut {
		g.open.Wait()
	}
	g.mu.Unlock()
}

// gatedConn is a connection whose reads, once they have data, wait for the
// gate: data read while it is shut is handed on when it opens.
type gatedConn struct {
	net.Conn
	g *gate
}

func (c gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.g.wait()
	return n, err
}

// connectGated links a and b over a pipe that a reads through g.
func connectGated(t *testing.T, a, b *Node, g *gate) {
	t.Helper()
	ca, cb := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Connect(cb)
		errc <- err
	}()
	_, err := a.Connect(gatedConn{ca, g})
	require.NoError(t, err)
	require.NoError(t, <-errc)
}

// A producer that moves must not be overtaken by what it sent just
// before: values on credit, or a close, travel on the old node's link to
// the home, and what it sends next on the new node's. Here the home reads
// the old node's link late (a gate): the move waits for the home's
// FENCED, which comes once everything before it is applied.
func TestAMovedSenderIsNotOvertakenByItsOwnFrames(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after func(ch channel.ID) []Instr // sent behind the gate; sent from the new node
		recvs         int                         // the consumer's receives
		consumer      []int
		producerLog   []string
	}{
		{"values on credit",
			func(ch channel.ID) []Instr { return sendRange(ch, 6, 10) },
			func(ch channel.ID) []Instr { return sendRange(ch, 11, 15) },
			15, ints(1, 15), nil},
		{"a close",
			func(ch channel.ID) []Instr { return []Instr{closeCh(ch)} },
			func(ch channel.ID) []Instr { return []Instr{send(ch, 99)} },
			6, ints(1, 5), []string{"err:" + channel.ErrClosed.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := moveBehindAGate(t, tc.before, tc.after, tc.recvs)
			assert.Equal(t, tc.consumer, res["consumer"].Got, "one sender's frames arrive in the order sent")
			assert.Equal(t, tc.producerLog, res["producer"].Log)
		})
	}
}

// moveBehindAGate runs a producer on node 2 that sends 1 to 5 to a channel
// of node 1, then `before` while node 1 does not read node 2's link, moves
// to node 3, sends `after` from there, and returns what the producer and a
// consumer of n values saw.
func moveBehindAGate(t *testing.T, before, after func(ch channel.ID) []Instr, n int) map[string]Result {
	c, g := gatedTrio(t)
	ch := c.ch(0, 64)
	go1, go2 := c.ch(2, 0), c.ch(2, 0)
	code := append(sendRange(ch, 1, 5), recv(go1))
	code = append(code, before(ch)...)
	code = append(code, recv(go2))
	code = append(code, after(ch)...)
	id := c.prog(1, "producer", code...)
	c.waitBalance(go1, -1) // 1 to 5 are in ch's buffer, and node 2 holds credit on it
	g.set(true)
	require.NoError(t, c.nodes[2].Post(go1, 0))
	c.waitBalance(go2, -1) // `before` went out and waits in the gate

	mv := startMove(t, c, id)
	require.NoError(t, c.nodes[2].Post(go2, 0)) // on node 3, or once there, the producer sends `after`
	c.waitFor("`after` to overtake `before`, or the move to wait for it", func() bool { return bufLen(c, ch) != 5 || mv.fencing() })
	g.set(false)
	mv.wait()
	c.prog(0, "consumer", recvN(ch, n)...)
	return c.collect(2)
}

// Two tasklets leave node 2 one after the other: the first move fences
// the home, and the second, with nothing sent since that FENCE, must wait
// for its answer too, since its own values went before it.
func TestASecondMoveWaitsForTheFenceAheadOfIt(t *testing.T) {
	c, g := gatedTrio(t)
	ch := c.ch(0, 64)
	go1, go2 := c.ch(2, 0), c.ch(2, 0)
	var ids []tasklet.ID
	for _, p := range []struct {
		name string
		base int
	}{{"p1", 0}, {"p2", 100}} {
		code := append(sendRange(ch, p.base+1, p.base+5), recv(go1))
		code = append(code, sendRange(ch, p.base+6, p.base+10)...)
		code = append(code, recv(go2))
		code = append(code, sendRange(ch, p.base+11, p.base+15)...)
		ids = append(ids, c.prog(1, p.name, code...))
	}
	c.waitBalance(go1, -2)
	g.set(true)
	for range 2 {
		require.NoError(t, c.nodes[2].Post(go1, 0))
	}
	c.waitBalance(go2, -2) // both sent their second five behind the gate
	first := startMove(t, c, ids[0])
	second := startMove(t, c, ids[1])
	for range 2 {
		require.NoError(t, c.nodes[2].Post(go2, 0))
	}
	c.waitFor("a third five to overtake a second, or the moves to wait", func() bool {
		return bufLen(c, ch) != 10 || first.fencing() && second.fencing()
	})
	g.set(false)
	first.wait()
	second.wait()
	c.prog(0, "consumer", recvN(ch, 30)...)
	got := c.collect(3)["consumer"].Got
	for _, base := range []int{0, 100} {
		mine := slices.DeleteFunc(slices.Clone(got), func(v int) bool { return v <= base || v > base+15 })
		assert.Equal(t, ints(base+1, base+15), mine, "the values of the producer counting from %d", base+1)
	}
}

// A home that never answers holds a move only until keepalive drops its
// link: then what it had not applied is lost with the link, and the move
// goes on.
func TestAMoveGoesOnWhenTheHomeItFencedIsDropped(t *testing.T) {
	// Long enough a silence that the link is still up when the move starts
	// on a loaded machine; the test waits for it once.
	c, g := gatedTrio(t, WithKeepalive(50*time.Millisecond, 2*time.Second))
	ch := c.ch(0, 64)
	go1 := c.ch(2, 0)
	code := append(sendRange(ch, 1, 5), recv(go1))
	code = append(code, sendRange(ch, 6, 10)...)
	id := c.prog(1, "producer", append(code, recv(go1))...)
	c.waitBalance(go1, -1)
	g.set(true) // for good: the home hears nothing more from node 2
	require.NoError(t, c.nodes[2].Post(go1, 0))
	c.waitBalance(go1, -1) // 6 to 10 wait in the gate
	m := startMove(t, c, id)
	require.True(t, m.fenced, "the move waits for the home's FENCED")
	m.wait()
	var at uint16
	c.on(2, func(s *scheduler.Scheduler) {
		if _, err := s.Info(id); err == nil {
			at = 3
		}
	})
	assert.Equal(t, uint16(3), at, "the producer moved to node 3")
}

// gatedTrio is a cluster of three nodes whose first (the home in these
// tests) reads the second's link through a gate.
func gatedTrio(t *testing.T, opts ...Option) (*cluster, *gate) {
	c := newCluster(t, 3, clusterConfig{noLinks: true, nodeOpts: opts})
	g := newGate()
	t.Cleanup(func() { g.set(false) })
	connectGated(t, c.nodes[0], c.nodes[1], g)
	require.NoError(t, ConnectPair(c.nodes[0], c.nodes[2]))
	require.NoError(t, ConnectPair(c.nodes[1], c.nodes[2]))
	return c, g
}

func bufLen(c *cluster, ch channel.ID) int {
	var k int
	c.on(c.home(ch), func(s *scheduler.Scheduler) {
		if c := s.Channel(ch); c != nil {
			k = c.Len()
		}
	})
	return k
}

// aMove is a Migrate of a tasklet from node 2 to node 3 under way.
type aMove struct {
	t      *testing.T
	c      *cluster
	id     tasklet.ID
	res    chan error
	done   bool
	fenced bool // seen waiting for a home's FENCED
}

// startMove starts the move and returns once it ended, or waits for a
// home's FENCED.
func startMove(t *testing.T, c *cluster, id tasklet.ID) *aMove {
	m := &aMove{t: t, c: c, id: id, res: make(chan error, 1)}
	go func() { m.res <- c.nodes[1].Migrate(testCtx(t), id, 3) }()
	c.waitFor("the move to end, or to wait for a home", func() bool {
		select {
		case err := <-m.res:
			require.NoError(t, err)
			m.done = true
		default:
		}
		m.fenced = !m.done && m.fencing()
		return m.done || m.fenced
	})
	return m
}

// fencing reports whether the move waits for a home's FENCED.
func (m *aMove) fencing() bool {
	var f bool
	m.c.on(1, func(s *scheduler.Scheduler) {
		mv := m.c.nodes[1].moving[m.id]
		f = mv != nil && !mv.sent && len(mv.fences) > 0
	})
	return f
}

// wait waits for the move to end.
func (m *aMove) wait() {
	if !m.done {
		require.NoError(m.t, <-m.res)
		m.done = true
	}
}

// A receiver whose select won on another case cancels its wait at the
// home; if it then moves and waits there again from its new node, the
// CANCEL (on the old node's link) must not be overtaken by the new wait,
// or the stale wait, first in the channel's queue, takes the next value,
// which comes back (RETURN) behind the one sent after it: the receiver saw
// 2 before 1.
func TestAMovedReceiverLeavesNoStaleWaitAhead(t *testing.T) {
	c, g := gatedTrio(t)
	ch := c.ch(0, 0)
	local, go1 := c.ch(1, 0), c.ch(2, 0)
	id := c.prog(1, "receiver", sel(SelCase{Ch: ch}, SelCase{Ch: local}), recv(go1), recv(ch), recv(ch))
	c.waitBalance(ch, -1) // the select's wait is at the home
	g.set(true)
	require.NoError(t, c.nodes[1].Post(local, 0)) // the select takes the local case; its CANCEL waits in the gate
	c.waitBalance(go1, -1)

	mv := startMove(t, c, id)
	require.NoError(t, c.nodes[2].Post(go1, 0)) // on node 3, the receiver waits on ch again
	c.waitFor("a second wait at the home, or the move to wait for it", func() bool { return c.balance(ch) == -2 || mv.fencing() })
	early := !mv.fencing()
	if early {
		c.prog(0, "sender", send(ch, 1), send(ch, 2)) // while the stale wait is still first in the queue
	}
	assert.False(t, early, "the move waits for the home to apply the CANCEL")
	g.set(false)
	mv.wait()
	if !early {
		c.prog(0, "sender", send(ch, 1), send(ch, 2))
	}
	res := c.collect(2)
	assert.Equal(t, []int{1, 2}, res["receiver"].Got[len(res["receiver"].Got)-2:], "the values in the order sent")
}
