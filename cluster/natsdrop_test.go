package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnAttemptInFlightWhenItsConnectionDropsIsMadeAgain: a request in
// flight when the server its connection is on stops is never answered;
// withAttempt gives it up at the drop and asks again on the connection to
// another server, where it is answered, long before the attempt's bound
// (an hour here: without the drop signal the test's deadline ends it).
func TestAnAttemptInFlightWhenItsConnectionDropsIsMadeAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three clustered NATS servers")
	}
	c := startNATSCluster(t, 3)
	client, err := connectOutside(c.urls[0]+","+c.urls[1], c.seed, "test client")
	require.NoError(t, err)
	defer client.Close()
	at := -1
	for i, u := range c.urls {
		if u == client.ConnectedUrl() {
			at = i
		}
	}
	require.GreaterOrEqual(t, at, 0, "the client is on one of the servers")
	responder, err := connectOutside(c.urls[2], c.seed, "test responder")
	require.NoError(t, err)
	defer responder.Close()
	got := make(chan struct{}, 16)
	first := true
	sub, err := responder.Subscribe("test.drop", func(m *nats.Msg) {
		got <- struct{}{}
		if first { // the first request is lost with the server
			first = false
			return
		}
		_ = m.Respond([]byte("answered"))
	})
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, responder.Flush())

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	type result struct {
		m   *nats.Msg
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := withAttempt(ctx, time.Hour, func(ctx context.Context) (*nats.Msg, error) {
			return client.RequestWithContext(ctx, "test.drop", nil)
		})
		done <- result{m, err}
	}()
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("the request never reached the responder")
	}
	c.srvs[at].Shutdown()
	c.srvs[at].WaitForShutdown()
	r := recvWithin(t, done, "the request in flight at the drop")
	require.NoError(t, r.err, "the request in flight at the drop was asked again")
	assert.Equal(t, []byte("answered"), r.m.Data)
	assert.NotEqual(t, c.urls[at], client.ConnectedUrl(), "the client moved to another server")
}
