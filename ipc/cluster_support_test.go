package ipc_test

// Tests of Route, Unroute and Routes (cluster_support.go, added by the
// cluster engineer).

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func routeNode(t *testing.T, id uint16) *ipc.Node {
	t.Helper()
	n := ipc.NewNode(scheduler.New(scheduler.WithNode(id)), pickle.NewRegistry(),
		ipc.WithSecret([]byte("0123456789abcdef0123456789abcdef")), ipc.WithKeepalive(0, 0))
	t.Cleanup(func() { n.Close() })
	return n
}

// grab receives one value and hands it to the test.
type grab struct {
	Ch   channel.ID
	Wait bool
	out  chan<- any
}

func (g *grab) Step(t *tasklet.T) tasklet.Op {
	if !g.Wait {
		g.Wait = true
		return t.Recv(g.Ch)
	}
	g.out <- t.Value()
	return t.Exit()
}

func TestRouteSendsALogicalNodesTrafficToItsHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Node 2 hosts a channel of logical node 5, as after a merge.
	ch := channel.ID(5<<tasklet.NodeBits | 1)
	sb, err := scheduler.Restore(&scheduler.World{Node: 2, Channels: []scheduler.ChannelState{{ID: ch, Cap: 0, Preference: -1}}})
	require.NoError(t, err)
	secret := ipc.WithSecret([]byte("0123456789abcdef0123456789abcdef"))
	b := ipc.NewNode(sb, pickle.NewRegistry(), secret, ipc.WithKeepalive(0, 0))
	t.Cleanup(func() { b.Close() })
	a, c := routeNode(t, 1), routeNode(t, 3)
	require.NoError(t, ipc.ConnectPair(a, b))
	require.NoError(t, ipc.ConnectPair(a, c))
	got := make(chan any, 1)
	sb.Spawn(&grab{Ch: ch, out: got})
	ran := make(chan error, 1)
	go func() { ran <- sb.Run(ctx) }()

	assert.ErrorIs(t, a.Post(ch, 41), ipc.ErrNoRoute, "no route yet")
	require.NoError(t, a.Route(5, 2)) // logical node 5 now lives on node 2
	assert.Equal(t, map[uint16]uint16{5: 2}, a.Routes())
	require.NoError(t, a.WaitPeer(ctx, 5))
	require.NoError(t, a.Post(ch, 42))
	select {
	case v := <-got:
		assert.Equal(t, 42, v, "the post went to the host of node 5")
	case <-ctx.Done():
		t.Fatal("the routed post did not arrive")
	}

	require.NoError(t, a.Route(5, 3), "a new route replaces the old one")
	assert.Equal(t, map[uint16]uint16{5: 3}, a.Routes())
	a.Unroute(5)
	assert.Empty(t, a.Routes())
	assert.ErrorIs(t, a.Post(ch, 43), ipc.ErrNoRoute)
	b.Close()
	<-ran
}

func TestRouteRefusals(t *testing.T) {
	a, b := routeNode(t, 1), routeNode(t, 2)
	require.NoError(t, ipc.ConnectPair(a, b))
	assert.Error(t, a.Route(1, 2), "a node's own number")
	assert.Error(t, a.Route(2, 2), "a node that has a link of its own")
	assert.ErrorIs(t, a.Route(7, 9), ipc.ErrNoRoute, "no link to the host")
	a.Unroute(2) // a real link is left alone
	assert.Contains(t, a.Peers(), uint16(2))
	require.NoError(t, a.Close())
	assert.ErrorIs(t, a.Route(7, 2), ipc.ErrNodeClosed)
}
