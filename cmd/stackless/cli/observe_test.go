package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpGet fetches url and returns its status and body.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// demo longtask --http serves its pipeline while it runs: the workers and
// the reducer, and the scheduler's counters on /metrics.
func TestDemoLongtaskServesTheObserver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	url, done := serve(t, rctx, "demo", "longtask", "--http", "127.0.0.1:0", "--docs", "250000", "--workers", "4",
		"--data", t.TempDir(), "--checkpoint-every", "50ms")
	code, body := httpGet(t, base(url)+"/api/overview")
	require.Equal(t, http.StatusOK, code, string(body))
	var ov struct {
		Source   string         `json:"source"`
		Tasklets int            `json:"tasklets"`
		Counts   map[string]int `json:"counts"`
	}
	require.NoError(t, json.Unmarshal(body, &ov))
	assert.Equal(t, "scheduler", ov.Source)
	assert.GreaterOrEqual(t, ov.Tasklets, 5, "4 workers and a reducer")
	code, body = httpGet(t, base(url)+"/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(body), `stackless_steps_total{node="0"}`)
	stop()
	select {
	case c := <-done:
		assert.Equal(t, exitInterrupted, c)
	case <-ctx.Done():
		t.Fatal("demo longtask --http did not stop")
	}
}

// observe serves until stopped, as a service: SIGTERM (systemd's, docker's
// or kill's stop) is a clean exit, Ctrl-C an interrupted one.
func TestObserveExitsBySignal(t *testing.T) {
	path, _, _ := damagedStore(t, 10)
	for _, tc := range []struct {
		sig  os.Signal
		code int
	}{{syscall.SIGTERM, exitOK}, {os.Interrupt, exitInterrupted}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rctx, stop := context.WithCancelCause(ctx)
		_, done := serve(t, rctx, "observe", path, "--http", "127.0.0.1:0")
		stop(signalCause{tc.sig}) // as Execute does on the signal
		select {
		case c := <-done:
			assert.Equal(t, tc.code, c, "observe stopped by %v", tc.sig)
		case <-ctx.Done():
			t.Fatalf("observe did not stop on %v", tc.sig)
		}
		cancel()
	}
}
