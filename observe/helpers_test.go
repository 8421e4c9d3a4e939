package observe_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Waiter receives on its inbox forever, counting what arrives; a kill or
// a thrown error ends it.
type Waiter struct {
	Inbox   channel.ID
	Waiting bool
	Got     int
}

func (w *Waiter) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil {
		return t.Exit()
	}
	if w.Waiting {
		w.Got++
	}
	w.Waiting = true
	return t.Recv(w.Inbox)
}

// live is a running scheduler with n waiters (one channel each) and one
// channel holding two posted values nobody receives.
type live struct {
	s    *scheduler.Scheduler
	ids  []tasklet.ID
	chs  []channel.ID
	stop func()
}

// startLive runs a scheduler with n waiters until the test ends.
func startLive(t *testing.T, n int) *live {
	t.Helper()
	s := scheduler.New()
	l := &live{s: s}
	for range n {
		ch := s.NewChannel(0)
		l.chs = append(l.chs, ch)
		l.ids = append(l.ids, s.Spawn(&Waiter{Inbox: ch}))
	}
	busy := s.NewChannel(0) // two values posted, nobody receives: the busiest channel
	s.Post(busy, 1)
	s.Post(busy, 2)
	l.chs = append(l.chs, busy)
	ctx, cancel := context.WithCancel(context.Background())
	release := s.Hold()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	l.stop = func() {
		cancel() // first: releasing first would let Run see a deadlock
		defer release()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("scheduler stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("scheduler did not stop within 10s")
		}
	}
	t.Cleanup(l.stop)
	// Wait until every waiter blocked.
	require.Eventually(t, func() bool {
		ok := make(chan bool, 1)
		s.Do(func(s *scheduler.Scheduler) { ok <- s.RunCount() == 0 })
		select {
		case v := <-ok:
			return v
		case <-time.After(time.Second):
			return false
		}
	}, 20*time.Second, 10*time.Millisecond)
	return l
}

func startServer(t *testing.T, cfg observe.Config) *observe.Server {
	t.Helper()
	srv, err := observe.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// get fetches path from srv (with the token when tok) and returns status
// and body.
func get(t *testing.T, srv *observe.Server, path string, tok bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr().String()+path, nil)
	require.NoError(t, err)
	if tok {
		req.Header.Set("Authorization", "Bearer "+srv.Token())
	}
	return do(t, req)
}

func post(t *testing.T, srv *observe.Server, path, body string, tok bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+srv.Addr().String()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if tok {
		req.Header.Set("Authorization", "Bearer "+srv.Token())
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
