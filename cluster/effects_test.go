package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Effects in the cluster: Fetchers call the effect "count", which asks a
// counting HTTP server the test starts, and send their folded answers to a
// Collector; a worker is killed with SIGKILL while calls are in flight.

func init() {
	pickle.MustRegister("test.fetcher", 1, &Fetcher{})
	cluster.MustRegisterEffect("count", fetchCount)
	cluster.MustRegisterSpawner("fetcher", func(a map[string]string) (tasklet.Behavior, error) {
		f := &Fetcher{URL: a["url"]}
		var err error
		if f.Out, err = cluster.ArgChan(a, "out"); err != nil {
			return nil, err
		}
		f.Calls, err = cluster.ArgInt(a, "calls", 10)
		return f, err
	})
}

// fetchCount GETs url with the call's key as its Idempotency-Key and
// returns the number in the body.
func fetchCount(ctx context.Context, key scheduler.EffectKey, url string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Idempotency-Key", key.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// Fetcher fetches documents 0..Calls-1 of its own (named by its tasklet
// ID), one effect call each, folds the answers in order, and sends a
// Digest of them on Out.
type Fetcher struct {
	URL   string
	Out   channel.ID
	Calls int
	I     int
	Acc   uint64
	Wait  bool
	Sent  bool
}

func (f *Fetcher) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if f.Wait {
		v, ok := t.Value().(uint64)
		if !ok {
			return t.Fail(fmt.Errorf("fetcher: got %T", t.Value()))
		}
		f.Acc = f.Acc*31 + v
		f.I++
		f.Wait = false
	}
	if f.I < f.Calls {
		f.Wait = true
		return t.Do("count", fmt.Sprintf("%s/doc?d=%d-%d", f.URL, uint64(t.ID()), f.I))
	}
	if !f.Sent {
		f.Sent = true
		return t.Send(f.Out, Digest{Seed: uint64(t.ID()), Sum: f.Acc})
	}
	return t.Exit()
}

// docValue is what the server answers for document d.
func docValue(d string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(d))
	return h.Sum64() >> 1
}

// expectedFetch is a Fetcher's digest computed without tasklets.
func expectedFetch(id tasklet.ID, calls int) uint64 {
	var acc uint64
	for i := range calls {
		acc = acc*31 + docValue(fmt.Sprintf("%d-%d", uint64(id), i))
	}
	return acc
}

// countingServer answers GET /doc?d=D with docValue(D) and counts the
// requests per document and the keys they came with. Once gateAt requests
// arrived, the next ones wait until open is called: calls are then in
// flight for as long as the test needs.
type countingServer struct {
	*httptest.Server
	mu     sync.Mutex
	total  int
	count  map[string]int
	keys   map[string]map[string]bool
	gateAt int
	held   int
	heldN  chan int // each held request's rank
	gate   chan struct{}
	opened sync.Once
}

func newCountingServer(t *testing.T, gateAt int) *countingServer {
	s := &countingServer{count: map[string]int{}, keys: map[string]map[string]bool{}, gateAt: gateAt,
		heldN: make(chan int, 1024), gate: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.open(); s.Close() })
	return s
}

func (s *countingServer) open() { s.opened.Do(func() { close(s.gate) }) }

func (s *countingServer) serve(w http.ResponseWriter, r *http.Request) {
	d := r.URL.Query().Get("d")
	s.mu.Lock()
	s.total++
	s.count[d]++
	if s.keys[d] == nil {
		s.keys[d] = map[string]bool{}
	}
	s.keys[d][r.Header.Get("Idempotency-Key")] = true
	hold := s.gateAt > 0 && s.total > s.gateAt
	if hold {
		s.held++
		s.heldN <- s.held
	}
	s.mu.Unlock()
	if hold {
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprintln(w, docValue(d))
}

// waitHeld waits until n requests are held at the gate.
func (s *countingServer) waitHeld(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		select {
		case k := <-s.heldN:
			if k >= n {
				return
			}
		case <-ctx.Done():
			s.mu.Lock()
			total, held := s.total, s.held
			s.mu.Unlock()
			require.FailNow(t, "requests not held at the gate", "want %d, held %d after %d requests: %v", n, held, total, ctx.Err())
		}
	}
}

// figures are the documents asked for, the requests made, and the
// documents that came with more than one key.
func (s *countingServer) figures() (docs, requests, keyMismatch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, n := range s.count {
		requests += n
		if len(s.keys[d]) != 1 {
			keyMismatch++
		}
	}
	return len(s.count), requests, keyMismatch
}

// spawnFetchers spawns count Fetchers of calls calls each, round robin,
// and their Collector on worker 1.
func spawnFetchers(t *testing.T, ctx context.Context, c cluster.API, url string, count, calls int) (tasklet.ID, uint64) {
	t.Helper()
	col, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "collector", Count: 1, Worker: 1,
		Args: map[string]string{"in": "@chan", "want": strconv.Itoa(count)}})
	require.NoError(t, err)
	res, err := c.Spawn(ctx, cluster.SpawnRequest{Kind: "fetcher", Count: count, Place: cluster.PlaceRoundRobin, Args: map[string]string{
		"out": col.Tasklets[0].Channels["in"].String(), "url": url, "calls": strconv.Itoa(calls)}})
	require.NoError(t, err)
	require.Len(t, res.Tasklets, count)
	var want uint64
	for _, s := range res.Tasklets {
		want ^= expectedFetch(s.ID, calls)
	}
	return col.Tasklets[0].ID, want
}

func TestEffectsSurviveAWorkerKilledWithCallsInFlight(t *testing.T) {
	const fetchers, calls = 8, 40
	c, ctx := startCluster(t, 2, nil)
	// The gate closes after fewer requests than one fetcher makes, so no
	// fetcher can finish before it, however unevenly a loaded machine
	// runs them (with fetchers*calls/3, one could, and then only 7 held).
	srv := newCountingServer(t, calls/2)
	col, want := spawnFetchers(t, ctx, c, srv.URL, fetchers, calls)

	// Every fetcher waits on a call held at the gate: the checkpoint saves
	// them as pending, and the kill loses the calls made since.
	srv.waitHeld(t, ctx, fetchers)
	_, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Workers, 2)
	require.NoError(t, syscall.Kill(st.Workers[1].Pid, syscall.SIGKILL))
	srv.open()

	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, fetchers, got)
	assert.Equal(t, want, xor, "the result of an uninterrupted run")
	docs, requests, mismatch := srv.figures()
	assert.Equal(t, fetchers*calls, docs, "every document was fetched")
	assert.GreaterOrEqual(t, requests, fetchers*calls+fetchers/2, "the calls pending at the checkpoint on the killed worker were issued again")
	assert.Zero(t, mismatch, "a repeated call carries the key of the first")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.Rollbacks, 1)
	t.Logf("cluster effects figures: %d documents, %d requests: %d repeated after the kill (the calls in flight at it; the journal answered the others)",
		docs, requests, requests-docs)
}

func TestMigrateRefusesATaskletWaitingOnAnEffect(t *testing.T) {
	c, ctx := startCluster(t, 2, nil)
	srv := newCountingServer(t, 1)
	col, want := spawnFetchers(t, ctx, c, srv.URL, 1, 3)
	srv.waitHeld(t, ctx, 1)
	v, err := c.PS(ctx)
	require.NoError(t, err)
	var id tasklet.ID
	var from uint16
	for _, tv := range v {
		if tv.Kind == "test.fetcher" {
			id, from = tv.ID, tv.Worker
		}
	}
	require.NotZero(t, id, "the fetcher is listed: %+v", v)

	_, err = c.Migrate(ctx, id, 3-from)
	require.Error(t, err)
	assert.True(t, errors.Is(err, scheduler.ErrEffectInFlight), "errors.Is ErrEffectInFlight across the wire: %v", err)
	assert.Contains(t, err.Error(), id.String(), "names the tasklet")
	assert.Contains(t, err.Error(), "stackless cluster migrate", "says what to do")

	srv.open()
	xor, got := collected(t, ctx, c, col)
	assert.Equal(t, 1, got)
	assert.Equal(t, want, xor, "the refused move changed nothing")
}
