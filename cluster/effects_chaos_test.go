package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
)

// Exactly-once effects under kill -9: Fetchers call the effect "count"
// against a counting HTTP server (one unique document per call) while
// workers are killed with SIGKILL several times, each kill rolling the
// cluster back to its last checkpoint. With the journal on, no call that
// completed before a kill runs again: the only repeats are of calls that
// were in flight at a kill (answered by the server, but not yet in the
// journal when the worker died). With the journal off, every call made
// since the last checkpoint runs again.

// timedServer answers like countingServer, after a short delay (so calls
// are in flight while the workers die), and keeps when each request
// arrived and was answered.
type timedServer struct {
	*httptest.Server
	delay time.Duration
	mu    sync.Mutex
	reqs  map[string][]served // by document
	keys  map[string]map[string]bool
	docs  chan int // the number of distinct documents, at each new one
}

type served struct{ at, done time.Time } // done: zero when never answered

func newTimedServer(t *testing.T, delay time.Duration) *timedServer {
	s := &timedServer{delay: delay, reqs: map[string][]served{}, keys: map[string]map[string]bool{}, docs: make(chan int, 1<<16)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *timedServer) serve(w http.ResponseWriter, r *http.Request) {
	d := r.URL.Query().Get("d")
	s.mu.Lock()
	if s.keys[d] == nil {
		s.keys[d] = map[string]bool{}
	}
	s.keys[d][r.Header.Get("Idempotency-Key")] = true
	s.reqs[d] = append(s.reqs[d], served{at: time.Now()}) // counted as it arrives: an execution, even if cut short
	i := len(s.reqs[d]) - 1
	if i == 0 {
		s.docs <- len(s.reqs)
	}
	s.mu.Unlock()
	select {
	case <-time.After(s.delay): // the service's own latency, not a wait for an event
	case <-r.Context().Done():
		return // the caller died or gave up: no answer (done stays zero)
	}
	fmt.Fprintln(w, docValue(d))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.mu.Lock()
	s.reqs[d][i].done = time.Now()
	s.mu.Unlock()
}

// waitDocs waits until n distinct documents were served.
func (s *timedServer) waitDocs(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		select {
		case k := <-s.docs:
			if k >= n {
				return
			}
		case <-ctx.Done():
			require.FailNow(t, "the fetchers made no progress", "want %d documents: %v", n, ctx.Err())
		}
	}
}

// repeatFigures sorts the repeated requests: those of calls in flight
// while a kill was dealt with (asked before the cluster had recovered,
// answered less than grace before the kill or later: the rollback stops
// the surviving workers too, with their calls), and those of calls that
// had completed well before every kill that followed them.
type repeatFigures struct {
	docs, requests, inFlight, completed, keyMismatch int
}

// outage is a kill and the moment the cluster ran again.
type outage struct{ kill, back time.Time }

func (s *timedServer) figures(outages []outage, grace time.Duration) repeatFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f repeatFigures
	f.docs = len(s.reqs)
	for d, rs := range s.reqs {
		f.requests += len(rs)
		if len(s.keys[d]) != 1 {
			f.keyMismatch++
		}
		for i := 1; i < len(rs); i++ {
			prev := rs[i-1]
			flying := false
			for _, o := range outages {
				if prev.at.Before(o.back) && rs[i].at.After(o.kill) && (prev.done.IsZero() || prev.done.After(o.kill.Add(-grace))) {
					flying = true
				}
			}
			if flying {
				f.inFlight++
			} else {
				f.completed++
			}
		}
	}
	return f
}

func TestEffectsExactlyOnceUnderWorkerKills(t *testing.T) {
	const fetchers, calls, kills = 12, 40, 3
	// A call answered more than this before a kill had its result in the
	// journal by then (a journal write takes milliseconds; this is for a
	// loaded machine under -race).
	const grace = time.Second
	for _, tc := range []struct {
		name    string
		journal bool
	}{{"journal on", true}, {"journal off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx := startCluster(t, 2, func(cfg *cluster.Config) {
				cfg.CheckpointEvery = 250 * time.Millisecond
				cfg.NoJournal = !tc.journal
				cfg.Keep = 3
			})
			srv := newTimedServer(t, 5*time.Millisecond)
			col, want := spawnFetchers(t, ctx, c, srv.URL, fetchers, calls)

			var killed []outage
			for i := range kills {
				srv.waitDocs(t, ctx, (i+1)*fetchers*calls/(kills+2))
				st, err := c.Status(ctx)
				require.NoError(t, err)
				require.Len(t, st.Workers, 2)
				victim := st.Workers[i%2].Pid
				o := outage{kill: time.Now()}
				require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
				st = recovered(t, ctx, c, 2, []int{victim})
				o.back = time.Now()
				killed = append(killed, o)
				require.GreaterOrEqual(t, st.Rollbacks, i+1, "each kill rolled the cluster back")
			}

			xor, got := collected(t, ctx, c, col)
			assert.Equal(t, fetchers, got)
			assert.Equal(t, want, xor, "the result of an uninterrupted run")
			f := srv.figures(killed, grace)
			assert.Equal(t, fetchers*calls, f.docs, "every document was fetched")
			assert.Zero(t, f.keyMismatch, "a repeated call carries the key of the first")
			repeated := f.requests - f.docs
			if tc.journal {
				assert.Zero(t, f.completed, "no call that completed (and was journaled) before a kill ran again")
				// A fetcher has one call in flight at a time: a kill (and the
				// rollback after it) can repeat at most one call per fetcher.
				assert.LessOrEqual(t, repeated, kills*fetchers, "only calls in flight at a kill ran again")
			}
			var left int
			if tc.journal {
				left = journalTrimmedAway(t, ctx, c)
			}
			if tc.journal {
				t.Logf("cluster effects under %d worker kills (journal on): %d documents, %d requests: %d repeated, all calls in flight at a kill "+
					"(at most %d could be), %d of calls that had completed before it; %d journal entries, trimmed away once the kept checkpoints passed them",
					kills, f.docs, f.requests, repeated, kills*fetchers, f.completed, left)
			} else {
				t.Logf("cluster effects under %d worker kills (journal off): %d documents, %d requests: %d repeated (every call since the checkpoint rolled back to)",
					kills, f.docs, f.requests, repeated)
			}
		})
	}
}

// journalTrimmedAway checkpoints a cluster whose tasklets have all ended
// until its journal is empty: every kept generation is past every call.
// It returns the entries there were before.
func journalTrimmedAway(t *testing.T, ctx context.Context, c *cluster.Coordinator) int {
	t.Helper()
	before, err := c.JournalLen(ctx)
	require.NoError(t, err)
	require.Positive(t, before, "the journal holds results")
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		_, err := c.Checkpoint(ctx) // each one trims, in the background
		require.NoError(t, err)
		n, err := c.JournalLen(ctx)
		require.NoError(t, err)
		if n == 0 {
			return before
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			require.FailNow(t, "the journal was not trimmed", "%d entries left: %v", n, ctx.Err())
		}
	}
}
