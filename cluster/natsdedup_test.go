package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNATSCommandLostOnItsWayIsSentAgainAndRunOnce: a command whose first
// copy is received but never reaches the leader (as when the NATS server
// it went through stops) is sent again with the same ID, answered, and
// run once although several copies reached the leader while it ran.
func TestNATSCommandLostOnItsWayIsSentAgainAndRunOnce(t *testing.T) {
	old := natsCmdResend
	natsCmdResend = 200 * time.Millisecond
	t.Cleanup(func() { natsCmdResend = old })
	r := newAPIRig(t, "c7")
	conn, err := connectOutside(r.url, r.seed, "test")
	require.NoError(t, err)
	defer conn.Close()
	subj := r.names.API + "." + kindCheckpoint

	// The hole takes the first copy and answers nothing.
	lost := make(chan string, 1)
	hole, err := conn.Subscribe(subj, func(m *nats.Msg) {
		select {
		case lost <- m.Header.Get(hdrRequest):
		default:
		}
	})
	require.NoError(t, err)
	require.NoError(t, conn.Flush())

	// Every copy the leader gets is counted; the command's run lasts
	// until two copies more than the lost one arrived.
	var copies atomic.Int32
	enough := make(chan struct{})
	spy, err := conn.Subscribe(subj, func(*nats.Msg) {
		if copies.Add(1) == 3 {
			close(enough)
		}
	})
	require.NoError(t, err)
	defer func() { _ = spy.Unsubscribe() }()
	var runs atomic.Int32
	a := r.leader(t, "a:1", map[string]handler{kindCheckpoint: jsonHandler(func(ctx context.Context, _ none) (CheckpointResult, error) {
		runs.Add(1)
		select {
		case <-enough:
		case <-ctx.Done():
		}
		return CheckpointResult{Gen: 7}, ctx.Err()
	})})
	a.lead(t, false)

	n := &natsCaller{nc: conn, names: r.names, lease: r.kv, where: natsWhere(r.url, r.names.Name)}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := make(chan error, 1)
	var res CheckpointResult
	go func() { got <- call(ctx, n, coordNode, kindCheckpoint, none{}, &res) }()
	var id string
	select {
	case id = <-lost:
	case <-ctx.Done():
		t.Fatal("the command was never sent")
	}
	require.NotEmpty(t, id, "a command carries its ID")
	require.NoError(t, hole.Unsubscribe())
	a.serve(t)
	require.NoError(t, <-got, "the command lost on its way was answered")
	assert.Equal(t, uint64(7), res.Gen)
	assert.Equal(t, int32(1), runs.Load(), "run once for all its copies")
	assert.GreaterOrEqual(t, copies.Load(), int32(3))
}

// lostOnceKV is a lease bucket whose first read is lost (never answered,
// as a request on a connection that dropped): it waits for its context.
type lostOnceKV struct {
	jetstream.KeyValue
	first   atomic.Bool
	waiting chan struct{}
}

func (k *lostOnceKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if k.first.CompareAndSwap(false, true) {
		close(k.waiting)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return k.KeyValue.Get(ctx, key)
}

// TestNATSCommandWhoseLeaseReadWasLostGoesOn: a command's read of the
// lease lost at a drop of the connection is asked again, and the command
// answered, rather than waiting for the caller's deadline (seen: a
// checkpoint over NATS unanswered for 90 s after a NATS server stopped).
func TestNATSCommandWhoseLeaseReadWasLostGoesOn(t *testing.T) {
	r := newAPIRig(t, "c8")
	a := r.leader(t, "a:1", map[string]handler{kindCheckpoint: jsonHandler(func(context.Context, none) (CheckpointResult, error) {
		return CheckpointResult{Gen: 9}, nil
	})})
	a.lead(t, false)
	a.serve(t)
	conn, err := connectOutside(r.url, r.seed, "test")
	require.NoError(t, err)
	defer conn.Close()
	kv := &lostOnceKV{KeyValue: r.kv, waiting: make(chan struct{})}
	n := &natsCaller{nc: conn, names: r.names, lease: kv, where: natsWhere(r.url, r.names.Name)}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got := make(chan error, 1)
	var res CheckpointResult
	go func() { got <- call(ctx, n, coordNode, kindCheckpoint, none{}, &res) }()
	select {
	case <-kv.waiting:
	case <-ctx.Done():
		t.Fatal("the lease was never read")
	}
	noteNATSDrop() // the connection the read went on dropped
	require.NoError(t, <-got, "the command went on after its lease read was lost")
	assert.Equal(t, uint64(9), res.Gen)
}
