package observe

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// A flood of idle connections holds no more than MaxConns descriptors:
// without a cap the observer accepted every one, until the process (a
// coordinator serving it with `cluster up --http`) had none left for its
// workers and clients. Idle keep-alive connections are closed in time.
func TestConnectionFloodIsCapped(t *testing.T) {
	srv, err := Start(Config{Source: NewSchedulerSource("x", scheduler.New(), nil), MaxConns: 2})
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, idleTimeout, srv.srv.IdleTimeout)

	var flood []net.Conn
	for range 6 { // idle: they send nothing
		c, err := net.Dial("tcp", srv.Addr().String())
		require.NoError(t, err)
		flood = append(flood, c)
	}
	require.Eventually(t, func() bool { return srv.lim.mostOpen() == 2 }, 10*time.Second, time.Millisecond, "two taken, the rest queued")
	got := make(chan int, 1)
	go func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("http://" + srv.Addr().String() + "/static/index.html")
		if err != nil {
			got <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	for _, c := range flood { // the queued ones are taken as slots free
		require.NoError(t, c.Close())
	}
	assert.Equal(t, http.StatusOK, <-got)
	assert.Equal(t, 2, srv.lim.mostOpen(), "never more than MaxConns at once")
}
