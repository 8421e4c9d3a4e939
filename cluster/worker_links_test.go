package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// The routing table is pushed before the workers are resumed; a worker
// must not take it (and so be resumed) before its link to every other
// worker is up on its own side too, or its tasklets fail with "no link to
// that node" and a checkpoint keeps the failure (found by the chaos run).
func TestRouteWaitsForTheLinkToEveryWorker(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	node := func(n uint16) *ipc.Node {
		nd := ipc.NewNode(scheduler.New(scheduler.WithNode(n)), pickle.Default, ipc.WithSecret(secret))
		t.Cleanup(func() { nd.Close() })
		return nd
	}
	n1, n2 := node(1), node(2)
	w := &worker{node: 1, n: n1}
	table := routeReq{Routes: map[uint16]uint16{1: 1, 2: 2}}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := w.route(ctx, table)
	require.Error(t, err, "no link to worker 2 yet: the table is not taken")
	assert.Contains(t, err.Error(), "node 2")

	require.NoError(t, ipc.ConnectPair(n1, n2))
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	_, err = w.route(ctx2, table)
	require.NoError(t, err)
	assert.Equal(t, table.Routes, w.routeTable)
}
