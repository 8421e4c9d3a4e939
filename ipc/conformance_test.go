package ipc

// The channel rules that make sense across nodes, each checked by running
// the same program twice: on a one-node cluster (a single process, the
// reference) and with its tasklets and channels spread over two nodes.
// Both runs must give the same results, balances included.

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
)

// program sets up tasklets on a cluster (node indices are mapped onto it
// with c.at) and returns what they observed.
type program func(c *cluster) map[string]Result

// compare runs p on one node and on nodes nodes linked as cfgs say.
func compare(t *testing.T, nodes int, p program, cfgs ...clusterConfig) map[string]Result {
	t.Helper()
	local := runProgram(t, 1, p)
	spread := runProgram(t, nodes, p, cfgs...)
	assert.Equal(t, local, spread, "a %d-node run must give what a single process gives", nodes)
	return spread
}

func runProgram(t *testing.T, nodes int, p program, cfgs ...clusterConfig) map[string]Result {
	t.Helper()
	c := newCluster(t, nodes, cfgs...)
	res := p(c)
	c.stop()
	return res
}

// withBalances adds the final balance of each channel to the results.
// Every program here ends with none waiting, and a node tells a channel's
// home how many of its sends wait for credit when it next idles (WAITING
// frames), so the home's count of them may lag the end by a frame: the
// balance is read until it is 0, or until waitTime, when a balance still
// off is a count that never came back.
func withBalances(c *cluster, res map[string]Result, chans ...channel.ID) map[string]Result {
	var b []int
	for _, ch := range chans {
		deadline := time.Now().Add(waitTime)
		k := c.balance(ch)
		for k != 0 && time.Now().Before(deadline) {
			runtime.Gosched()
			k = c.balance(ch)
		}
		b = append(b, k)
	}
	res["balances"] = Result{Name: "balances", Got: b}
	return res
}

func TestConformanceAcrossNodes(t *testing.T) {
	tests := []struct {
		name string
		p    program
		want map[string][]int // spot checks of what tasklets received
	}{
		{"receivers keep FIFO order across local and remote waiters", func(c *cluster) map[string]Result {
			ch := c.ch(0, 0)
			c.prog(1, "r1", recv(ch))
			c.waitBalance(ch, -1)
			c.prog(0, "r2", recv(ch))
			c.waitBalance(ch, -2)
			c.prog(1, "r3", recv(ch))
			c.waitBalance(ch, -3)
			c.prog(1, "s", send(ch, 10), send(ch, 20), send(ch, 30))
			return withBalances(c, c.collect(4), ch)
		}, map[string][]int{"r1": {10}, "r2": {20}, "r3": {30}}},

		{"senders keep FIFO order across local and remote waiters", func(c *cluster) map[string]Result {
			ch := c.ch(0, 0)
			c.prog(1, "s1", send(ch, 1))
			c.waitBalance(ch, 1)
			c.prog(0, "s2", send(ch, 2))
			c.waitBalance(ch, 2)
			c.prog(1, "s3", send(ch, 3))
			c.waitBalance(ch, 3)
			c.prog(1, "r", recvN(ch, 3)...)
			return withBalances(c, c.collect(4), ch)
		}, map[string][]int{"r": {1, 2, 3}}},

		{"ping-pong through rendezvous channels on both nodes", func(c *cluster) map[string]Result {
			ping, pong := c.ch(0, 0), c.ch(1, 0)
			var a, b []Instr
			for i := 1; i <= 20; i++ {
				a = append(a, send(ping, i), recv(pong))
				b = append(b, recv(ping), send(pong, 100+i))
			}
			c.prog(1, "a", a...)
			c.prog(0, "b", b...)
			return withBalances(c, c.collect(2), ping, pong)
		}, map[string][]int{"b": ints(1, 20), "a": ints(101, 120)}},

		{"a buffered channel pipelines to a local consumer", func(c *cluster) map[string]Result {
			ch := c.ch(0, 4)
			c.prog(1, "producer", sendRange(ch, 1, 50)...)
			c.prog(0, "consumer", recvN(ch, 50)...)
			return withBalances(c, c.collect(2), ch)
		}, map[string][]int{"consumer": ints(1, 50)}},

		{"a buffered channel pipelines to a remote consumer", func(c *cluster) map[string]Result {
			ch := c.ch(0, 4)
			c.prog(0, "producer", sendRange(ch, 1, 50)...)
			c.prog(1, "consumer", recvN(ch, 50)...)
			return withBalances(c, c.collect(2), ch)
		}, map[string][]int{"consumer": ints(1, 50)}},

		{"many producers on both nodes, one consumer", func(c *cluster) map[string]Result {
			ch := c.ch(1, 3)
			for p := range 4 {
				c.prog(p, fmt.Sprint("p", p), sendRange(ch, 100*p+1, 100*p+10)...)
			}
			c.prog(1, "consumer", recvN(ch, 40)...)
			res := c.collect(5)
			got := res["consumer"]
			got.Got = slices.Sorted(slices.Values(got.Got)) // interleaving depends on timing; the set must not
			res["consumer"] = got
			return withBalances(c, res, ch)
		}, nil},

		{"close wakes every receiver and sender, wherever it runs", func(c *cluster) map[string]Result {
			in, out := c.ch(0, 0), c.ch(0, 0)
			c.prog(1, "r1", recv(in))
			c.waitBalance(in, -1)
			c.prog(0, "r2", recv(in))
			c.waitBalance(in, -2)
			c.prog(1, "s1", send(out, 1))
			c.waitBalance(out, 1)
			c.prog(0, "s2", send(out, 2))
			c.waitBalance(out, 2)
			require.NoError(t, c.nodes[c.at(1)].CloseChannel(in))
			require.NoError(t, c.nodes[c.at(1)].CloseChannel(out))
			return withBalances(c, c.collect(4))
		}, nil},

		{"buffered values stay receivable after close", func(c *cluster) map[string]Result {
			ch := c.ch(0, 2)
			c.prog(1, "producer", send(ch, 1), send(ch, 2))
			c.collect(1)
			require.NoError(t, c.nodes[c.at(1)].CloseChannel(ch))
			c.prog(1, "consumer", recvN(ch, 3)...)
			return c.collect(1)
		}, map[string][]int{"consumer": {1, 2}}},

		{"a tasklet closes a channel of the other node, and its send after fails", func(c *cluster) map[string]Result {
			ch := c.ch(0, 0)
			c.prog(0, "r1", recv(ch))
			c.waitBalance(ch, -1)
			c.prog(1, "r2", recv(ch))
			c.waitBalance(ch, -2)
			c.prog(1, "closer", closeCh(ch), send(ch, 5))
			return withBalances(c, c.collect(3), ch)
		}, nil},

		{"a producer closes the other node's buffered channel behind its values", func(c *cluster) map[string]Result {
			ch := c.ch(0, 2)
			c.prog(0, "consumer", recvN(ch, 21)...)
			c.prog(1, "producer", append(sendRange(ch, 1, 20), closeCh(ch), send(ch, 99), closeCh(ch))...)
			return c.collect(2)
		}, map[string][]int{"consumer": ints(1, 20)}},

		{"a close from the other node wakes the senders a full buffer holds", func(c *cluster) map[string]Result {
			ch := c.ch(0, 1)
			c.prog(1, "s1", send(ch, 1))
			res := c.collect(1)
			c.prog(1, "s2", send(ch, 2))
			c.waitBalance(ch, 1)
			c.prog(0, "s3", send(ch, 3))
			c.waitBalance(ch, 2)
			c.prog(1, "closer", closeCh(ch))
			// The close is on its way when Close returns: wait until it is
			// known at the home, as in one process it is at once.
			c.waitFor("the close at the home", func() bool { return c.closed(ch) })
			c.prog(0, "consumer", recvN(ch, 2)...)
			for k, v := range c.collect(4) {
				res[k] = v
			}
			return withBalances(c, res, ch)
		}, map[string][]int{"consumer": {1}}},

		{"SendErr delivers an error to a receiver on the other node", func(c *cluster) map[string]Result {
			a, b := c.ch(0, 0), c.ch(1, 0)
			c.prog(0, "ra", recv(a), recv(a))
			c.prog(1, "sa", sendErr(a, "boom"), send(a, 7))
			c.prog(0, "sb", sendErr(b, "bang"))
			c.prog(1, "rb", recv(b))
			return withBalances(c, c.collect(4), a, b)
		}, map[string][]int{"ra": {7}}},

		{"a select on one remote node is exact", func(c *cluster) map[string]Result {
			a, b, out := c.ch(0, 0), c.ch(0, 0), c.ch(0, 0)
			c.prog(1, "sel1", sel(SelCase{Ch: a}, SelCase{Ch: b}, SelCase{Send: true, Ch: out, Val: 5}))
			c.waitBalance(a, -1)
			c.prog(0, "feed", send(b, 42))
			res := c.collect(2)
			c.prog(1, "sel2", sel(SelCase{Ch: a}, SelCase{Ch: b}, SelCase{Send: true, Ch: out, Val: 5}))
			c.waitBalance(out, 1)
			c.prog(0, "drain", recv(out))
			for k, v := range c.collect(2) {
				res[k] = v
			}
			return withBalances(c, res, a, b, out)
		}, map[string][]int{"sel1": {42}, "drain": {5}}},
	}
	// In-memory pipes, and unix sockets, whose frames the schedulers read
	// out of shared-memory rings themselves (poll.go).
	links := []struct {
		name string
		cfg  clusterConfig
	}{{"pipe", clusterConfig{}}, {"shared memory", clusterConfig{unix: true}}}
	for _, tc := range tests {
		for _, link := range links {
			if link.cfg.unix && !shmSupported {
				continue
			}
			t.Run(tc.name+"/"+link.name, func(t *testing.T) {
				res := compare(t, 2, tc.p, link.cfg)
				for name, want := range tc.want {
					assert.Equal(t, want, res[name].Got, name)
				}
				if b, ok := res["balances"]; ok {
					for i, v := range b.Got {
						assert.Zero(t, v, "balance of channel %d at the end", i)
					}
				}
			})
		}
	}
}

// An error sent to another node keeps the sentinel it wraps: errors.Is
// holds on the receiving node as it does in one process.
func TestASentErrorKeepsItsWrappedSentinelAcrossNodes(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 0)
	c.prog(0, "r", recv(ch))
	c.prog(1, "s", sendErrWrapped(ch, "boom"))
	res := c.collect(2)
	assert.Equal(t, []string{"err:wrapped boom: " + channel.ErrClosed.Error(), "is closed: true"}, res["r"].Log)
}

// TestCloseResultsNameTheError pins the error text both runs agree on.
func TestCloseResultsNameTheError(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 0)
	c.prog(1, "r", recv(ch))
	c.waitBalance(ch, -1)
	require.NoError(t, c.nodes[1].CloseChannel(ch))
	res := c.collect(1)
	assert.Equal(t, []string{"err:" + channel.ErrClosed.Error()}, res["r"].Log)
	c.on(0, func(s *scheduler.Scheduler) { assert.Nil(t, s.Channel(ch), "a closed, drained channel is dropped") })
}

// A CLOSE that reaches a node not holding its channel is dropped there,
// not passed on to the channel's home.
func TestACloseFromAPeerIsNotPassedOn(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 0)   // home: node 1
	wake := c.ch(1, 0) // home: node 2
	c.prog(1, "r", recv(wake), recv(ch))
	c.waitBalance(wake, -1)
	l := c.nodes[0].link(2)
	require.NotNil(t, l)
	require.NoError(t, l.send(&message{Kind: kClose, Chan: ch}), "to node 2, which does not hold ch")
	require.NoError(t, l.send(&message{Kind: kPost, Chan: wake, Value: 1}))
	// r's receive reaches ch's home behind whatever node 2 sent there
	// when it read the CLOSE.
	c.waitBalance(ch, -1)
	assert.False(t, c.closed(ch))
}
