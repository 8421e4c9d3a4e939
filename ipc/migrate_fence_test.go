package ipc

import (
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
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
	c := newCluster(t, 3, clusterConfig{noLinks: true})
	g := newGate()
	t.Cleanup(func() { g.set(false) })
	connectGated(t, c.nodes[0], c.nodes[1], g) // the home (node 1) reads node 2 through g
	require.NoError(t, ConnectPair(c.nodes[0], c.nodes[2]))
	require.NoError(t, ConnectPair(c.nodes[1], c.nodes[2]))

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

	moved := make(chan error, 1)
	go func() { moved <- c.nodes[1].Migrate(testCtx(t), id, 3) }()
	fencing := func() bool {
		var f bool
		c.on(1, func(s *scheduler.Scheduler) {
			mv := c.nodes[1].moving[id]
			f = mv != nil && !mv.sent && len(mv.fences) > 0
		})
		return f
	}
	var err error
	done := false
	c.waitFor("the move to end, or to wait for the home", func() bool {
		select {
		case err = <-moved:
			done = true
		default:
		}
		return done || fencing()
	})
	require.NoError(t, err)
	require.NoError(t, c.nodes[2].Post(go2, 0)) // on node 3, or once there, the producer sends `after`
	changed := func() bool {
		var k int
		c.on(0, func(s *scheduler.Scheduler) {
			if c := s.Channel(ch); c != nil {
				k = c.Len()
			}
		})
		return k != 5
	}
	c.waitFor("`after` to overtake `before`, or the move to wait for it", func() bool { return changed() || fencing() })
	g.set(false)
	if !done {
		require.NoError(t, <-moved)
	}
	c.prog(0, "consumer", recvN(ch, n)...)
	return c.collect(2)
}
