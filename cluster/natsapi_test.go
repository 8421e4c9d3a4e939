package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiRig is an embedded NATS server listening on loopback, the lease bucket
// of a named cluster on it, and coordinators' API servers answering
// requests as fake leaders.
type apiRig struct {
	url, seed string
	names     natsNames
	gs        *genStore
	kv        jetstream.KeyValue
}

func newAPIRig(t *testing.T, name string) *apiRig {
	t.Helper()
	l := dirLayout{t.TempDir()}
	e, err := startNATS(l, true)
	require.NoError(t, err)
	nc, err := e.connect("test")
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close(); e.close() })
	names := bucketNames(name)
	gs, err := openNamedGenStore(t.Context(), nc, names, 0, "test")
	require.NoError(t, err)
	kv, err := openLease(t.Context(), gs.js, names.Lease, 1)
	require.NoError(t, err)
	return &apiRig{url: e.url, seed: l.NATSSeed(), names: names, gs: gs, kv: kv}
}

// fakeLeader is an API server whose status handler says who it is and
// counts its calls; extra handlers may be added before serve.
type fakeLeader struct {
	l     *lease
	srv   *apiServer
	calls atomic.Int32
}

func (r *apiRig) leader(t *testing.T, who string, extra map[string]handler) *fakeLeader {
	t.Helper()
	f := &fakeLeader{l: newLease(r.kv)}
	f.l.me.Holder = who
	h := map[string]handler{
		kindHello: jsonHandler(func(context.Context, none) (none, error) { return none{}, nil }),
		kindStatus: jsonHandler(func(context.Context, none) (Status, error) {
			f.calls.Add(1)
			return Status{Dir: who}, nil
		}),
	}
	for k, v := range extra {
		h[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.srv = &apiServer{nc: r.gs.nc, names: r.names, lease: f.l, handlers: h, blobs: &blobs{}, log: slog.New(slog.DiscardHandler), ctx: ctx}
	return f
}

func (f *fakeLeader) lead(t *testing.T, force bool) {
	t.Helper()
	require.NoError(t, f.l.acquire(t.Context(), force, false, nil))
}

func (f *fakeLeader) serve(t *testing.T) {
	t.Helper()
	require.NoError(t, f.srv.start())
	t.Cleanup(f.srv.stop)
}

func (r *apiRig) dial(t *testing.T) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, DialConfig{NATS: r.url, NATSCreds: r.seed, Name: r.names.Name})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestNATSRequestsReachTheLeaseHolderOnly: two coordinators serve the
// cluster's subject; only the lease holder answers. When another takes
// the lease (the first does not know yet), the deposed one stays silent
// and the new one answers.
func TestNATSRequestsReachTheLeaseHolderOnly(t *testing.T) {
	r := newAPIRig(t, "c1")
	a, b, s := r.leader(t, "a:1", nil), r.leader(t, "b:2", nil), r.leader(t, "s:3", nil)
	a.lead(t, false)
	a.serve(t)
	s.serve(t) // subscribed, never leading
	c := r.dial(t)
	st, err := c.Status(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "a:1", st.Dir, "the holder answers")

	b.lead(t, true) // b takes the lease; a is deposed without knowing it
	b.serve(t)
	st, err = c.Status(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "b:2", st.Dir, "the new holder answers")
	assert.Equal(t, int32(1), a.calls.Load(), "the deposed leader did not act on the request")
	assert.Zero(t, s.calls.Load(), "a coordinator that does not lead does not act")
}

// TestNATSRequestWaitsForALeader: a request sent while nobody leads is sent
// again until a leader serves, then answered; with none before the
// deadline it fails with ErrNoLeader, naming the cluster and what to run.
func TestNATSRequestWaitsForALeader(t *testing.T) {
	r := newAPIRig(t, "c2")
	a := r.leader(t, "a:1", nil)
	conn, err := connectOutside(r.url, r.seed, "test")
	require.NoError(t, err)
	defer conn.Close()
	n := &natsCaller{nc: conn, names: r.names, lease: r.kv, where: natsWhere(r.url, r.names.Name)}

	short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	err = call(short, n, coordNode, kindStatus, none{}, nil)
	cancel()
	require.ErrorIs(t, err, ErrNoLeader)
	assert.ErrorContains(t, err, "cluster c2")
	assert.ErrorContains(t, err, "stackless cluster up --nats URL --creds FILE --name c2")

	sent := conn.Stats().OutMsgs
	got := make(chan error, 1)
	var st Status
	go func() { got <- call(t.Context(), n, coordNode, kindStatus, none{}, &st) }()
	require.Eventually(t, func() bool { return conn.Stats().OutMsgs >= sent+2 }, 30*time.Second, 5*time.Millisecond,
		"the request is sent again while nobody answers")
	a.lead(t, false)
	a.serve(t)
	select {
	case err := <-got:
		require.NoError(t, err)
		assert.Equal(t, "a:1", st.Dir)
	case <-time.After(30 * time.Second):
		t.Fatal("the request was not answered once a leader served")
	}
}

// TestNATSCommandFailsWhenTheLeaderChanges: a command (not a read) the
// leader took but did not answer fails with ErrLeaderChanged once another
// coordinator holds the lease, naming both; it is not sent again.
func TestNATSCommandFailsWhenTheLeaderChanges(t *testing.T) {
	r := newAPIRig(t, "c3")
	took := make(chan struct{})
	var runs atomic.Int32
	hang := jsonHandler(func(ctx context.Context, _ none) (CheckpointResult, error) {
		runs.Add(1)
		close(took)
		<-ctx.Done()
		return CheckpointResult{}, ctx.Err()
	})
	a := r.leader(t, "a:1", map[string]handler{kindCheckpoint: hang})
	a.lead(t, false)
	a.serve(t)
	c := r.dial(t)
	got := make(chan error, 1)
	go func() {
		_, err := c.Checkpoint(t.Context())
		got <- err
	}()
	recvWithin(t, took, "the checkpoint reaching leader a")
	b := r.leader(t, "b:2", nil)
	b.lead(t, true)
	select {
	case err := <-got:
		require.ErrorIs(t, err, ErrLeaderChanged)
		assert.ErrorContains(t, err, "a:1")
		assert.ErrorContains(t, err, "b:2")
	case <-time.After(30 * time.Second):
		t.Fatal("the command waited on a deposed leader")
	}
	assert.Equal(t, int32(1), runs.Load(), "not sent again")
}

// TestNATSLargeRepliesAndErrors: a reply larger than a NATS message comes
// whole (pulled in parts, over several chunks), and a handler's error
// keeps its sentinel.
func TestNATSLargeRepliesAndErrors(t *testing.T) {
	r := newAPIRig(t, "c4")
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*chunkSize+natsPart/2)/16)
	a := r.leader(t, "a:1", map[string]handler{
		kindList: func(context.Context, []byte) ([]byte, error) { return json.Marshal(big) },
		kindInspect: jsonHandler(func(_ context.Context, q idReq) (TaskletView, error) {
			return TaskletView{}, fmt.Errorf("cluster: %v: %w", q.ID, ErrNoTasklet)
		}),
	})
	a.lead(t, false)
	a.serve(t)
	c := r.dial(t)
	var got []byte
	require.NoError(t, c.do(t.Context(), kindList, none{}, &got))
	assert.Equal(t, big, got)
	_, err := c.Inspect(t.Context(), 42)
	assert.ErrorIs(t, err, ErrNoTasklet)
	assert.ErrorContains(t, err, "t42")
}

// TestClusterNames: a name NATS cannot take is refused, saying which are;
// two named clusters on one server keep their generations apart.
func TestClusterNames(t *testing.T) {
	for _, bad := range []string{"a.b", "a b", "a*", "a>", "ä", "x/y", "0123456789012345678901234567890123"} {
		err := ValidateName(bad)
		assert.ErrorIs(t, err, ErrBadName, bad)
		assert.ErrorContains(t, err, "letters, digits, '-' or '_'", bad)
	}
	for _, good := range []string{"", "stackless", "game-eu_1", "A"} {
		assert.NoError(t, ValidateName(good), good)
	}
	assert.Equal(t, natsNames{Name: "stackless", Manifests: "stackless_manifests", Ckpt: "stackless_ckpt", Lease: "stackless_lease", API: "stackless.api",
		Journal: "stackless_journal", Members: "stackless_members", Join: "stackless.worker.join"},
		bucketNames(""), "the default keeps the buckets of earlier versions")
	assert.Equal(t, natsNames{Name: "game-eu_1", Manifests: "game-eu_1_manifests", Ckpt: "game-eu_1_ckpt", Lease: "game-eu_1_lease",
		API: "game-eu_1.api", Journal: "game-eu_1_journal", Members: "game-eu_1_members", Join: "game-eu_1.worker.join"},
		bucketNames("game-eu_1"), "every bucket and subject of a named cluster carries its name")

	r := newAPIRig(t, "one")
	two, err := openNamedGenStore(t.Context(), r.gs.nc, bucketNames("two"), 0, "two")
	require.NoError(t, err)
	_, err = r.gs.save(t.Context(), snapOf(2, "one"))
	require.NoError(t, err)
	gens, err := two.gens(t.Context())
	require.NoError(t, err)
	assert.Empty(t, gens, "cluster two sees none of cluster one's generations")
	_, err = two.save(t.Context(), snapOf(1, "two"))
	require.NoError(t, err)
	s, err := r.gs.load(t.Context(), 0)
	require.NoError(t, err)
	assert.Equal(t, []byte("one/w1"), s.Worlds[0].Blob)

	_, err = Dial(t.Context(), DialConfig{NATS: r.url, NATSCreds: r.seed, Name: "nobody"})
	require.ErrorIs(t, err, ErrNoLeader)
	assert.ErrorContains(t, err, `no cluster named "nobody"`)
	_, err = Dial(t.Context(), DialConfig{NATS: r.url, NATSCreds: r.seed, Name: "a.b"})
	assert.ErrorIs(t, err, ErrBadName)
}
