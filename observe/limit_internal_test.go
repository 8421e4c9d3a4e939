package observe

import (
	"bufio"
	"fmt"
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

// A flood that keeps every slot taken must not shut real clients out:
// connections that send nothing, send their headers a byte at a time, or
// sit idle after a request were held for ReadHeaderTimeout (10 s) or
// idleTimeout (2 min) while every real request waited behind them; event
// streams were held for good. Now a new connection closes the oldest one
// that is not in a request, and streams have a cap of their own.
func TestFloodDoesNotShutOutRealClients(t *testing.T) {
	const maxConns = 4
	get := func(c net.Conn, path string) (*http.Response, error) {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path); err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(c), nil)
	}
	cases := []struct {
		name  string
		flood func(t *testing.T, c net.Conn)
	}{
		{"silent", func(*testing.T, net.Conn) {}},
		{"slow headers", func(t *testing.T, c net.Conn) {
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
			require.NoError(t, err)
		}},
		{"idle keep-alive", func(t *testing.T, c net.Conn) {
			resp, err := get(c, "/static/index.html")
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}},
		{"event streams", func(t *testing.T, c net.Conn) {
			resp, err := get(c, "/api/events")
			require.NoError(t, err) // the first maxConns/2 stream, the others are refused
			if resp.StatusCode != http.StatusOK {
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Start(Config{Source: NewSchedulerSource("x", scheduler.New(), nil), MaxConns: maxConns})
			require.NoError(t, err)
			defer srv.Close()
			for range 3 * maxConns { // held open until the end of the test
				c, err := net.Dial("tcp", srv.Addr().String())
				require.NoError(t, err)
				defer c.Close()
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second))) // a flood that cannot get in fails, not hangs
				tc.flood(t, c)
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second} // half ReadHeaderTimeout
			start := time.Now()
			resp, err := client.Get("http://" + srv.Addr().String() + "/static/index.html")
			require.NoError(t, err, "a real client during the flood")
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			t.Logf("served in %v; %d connections closed to make room", time.Since(start).Round(time.Millisecond), srv.lim.evictions())
			assert.LessOrEqual(t, srv.lim.mostOpen(), maxConns, "never more than MaxConns at once")
			srv.hub.mu.Lock()
			streams := len(srv.hub.subs)
			srv.hub.mu.Unlock()
			assert.LessOrEqual(t, streams, maxConns/2, "event streams leave half the slots")
		})
	}
}
