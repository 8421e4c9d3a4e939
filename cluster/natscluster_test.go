package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// natsCluster is n NATS servers with JetStream, clustered on loopback,
// each with a store folder of its own (a "machine"), letting in the nkey
// of one seed file.
type natsCluster struct {
	srvs []*server.Server
	urls []string
	seed string // the credentials file
}

// Starting the test's NATS servers: a port picked by listening on :0 and
// closing it can be taken by any process before the server binds it (an
// outgoing connection of the servers themselves included; seen in CI as a
// server never ready). So every server binds port 0 itself, and the
// servers are started one after the other, each with routes to those
// already running. Only the first one's route port is picked beforehand
// (its own route: JetStream's cluster mode needs one configured); a
// server that does not come up is shut down and started again on other
// ports. The cluster is returned once JetStream places and answers a
// stream with a replica on every server.
const (
	natsServerReady = 20 * time.Second // one server's listeners
	natsServerTries = 3
	natsJSReady     = 90 * time.Second // the JetStream cluster, after the servers
)

func startNATSCluster(t testing.TB, n int) *natsCluster {
	t.Helper()
	root := t.TempDir()
	kp, err := ensureSeed(filepath.Join(root, "user.seed"))
	require.NoError(t, err)
	pub, _ := kp.PublicKey()
	nc := &natsCluster{seed: filepath.Join(root, "user.seed")}
	t.Cleanup(func() {
		for _, s := range nc.srvs {
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
	var routes []*url.URL
	for i := range n {
		name := fmt.Sprintf("m%d", i+1)
		var s *server.Server
		for try := 1; s == nil; try++ {
			require.LessOrEqual(t, try, natsServerTries, "NATS server %s did not become ready in %d tries of %v", name, natsServerTries, natsServerReady)
			opts := &server.Options{
				ServerName: name, Host: "127.0.0.1", Port: server.RANDOM_PORT,
				JetStream: true, StoreDir: filepath.Join(root, name),
				NoLog: true, NoSigs: true, Nkeys: []*server.NkeyUser{{Nkey: pub}},
				Cluster: server.ClusterOpts{Name: "stackless-test", Host: "127.0.0.1", Port: server.RANDOM_PORT},
				Routes:  routes,
			}
			switch {
			case n == 1: // a single server: no cluster to form
				opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
			case i == 0:
				p := freePort(t)
				opts.Cluster.Port = p
				opts.Routes = []*url.URL{routeURL(fmt.Sprintf("127.0.0.1:%d", p))}
			}
			s, err = server.NewServer(opts)
			require.NoError(t, err)
			s.Start()
			if !s.ReadyForConnections(natsServerReady) {
				t.Logf("NATS server %s was not ready within %v (try %d); starting it again on other ports", name, natsServerReady, try)
				s.Shutdown()
				s.WaitForShutdown()
				s = nil // a restart on the same store: the same server to the others
			}
		}
		nc.srvs = append(nc.srvs, s)
		nc.urls = append(nc.urls, s.ClientURL())
		if n > 1 {
			routes = append(routes, routeURL(s.ClusterAddr().String()))
		}
	}
	waitJetStreamPlaces(t, nc, n)
	return nc
}

func routeURL(hostPort string) *url.URL { return &url.URL{Scheme: "nats-route", Host: hostPort} }

// freePort picks a free loopback port (closed again before use: see above).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitJetStreamPlaces waits until JetStream on the n servers creates a
// stream with min(3, n) replicas and stores a message in it (a meta
// leader elected, every server known to it and current), then deletes
// it. Until then a replicated bucket may fail with "no suitable peers for
// placement" or wait for an election.
func waitJetStreamPlaces(t testing.TB, c *natsCluster, n int) {
	t.Helper()
	conn, err := connectOutside(strings.Join(c.urls, ","), c.seed, "test readiness")
	require.NoError(t, err)
	defer conn.Close()
	js, err := jetstream.New(conn)
	require.NoError(t, err)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), natsJSReady)
	defer cancel()
	cfg := jetstream.StreamConfig{Name: "stackless_test_ready", Subjects: []string{"stackless.test.ready"},
		Storage: jetstream.MemoryStorage, Replicas: min(3, n)}
	var last error
	for ctx.Err() == nil {
		last = tryPlace(ctx, js, cfg)
		if last == nil {
			t.Logf("%d NATS servers: JetStream placed a stream of %d replicas after %v", n, cfg.Replicas, time.Since(t0).Round(time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.FailNow(t, "JetStream never became usable", "%d NATS servers (%s): no stream of %d replicas within %v: %v",
		n, strings.Join(c.urls, ","), cfg.Replicas, natsJSReady, last)
}

// tryPlace makes cfg's stream, stores a message in it and deletes it, in
// one bounded attempt.
func tryPlace(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(actx, cfg); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := js.Publish(actx, cfg.Subjects[0], []byte("ready?")); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := js.DeleteStream(actx, cfg.Name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// TestCheckpointsSurviveOneNATSNodeOfThree: on three clustered NATS
// servers the buckets have 3 replicas; with the server the client was
// connected to stopped, checkpoints go on being committed, and the newest
// and older generations load.
func TestCheckpointsSurviveOneNATSNodeOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three clustered NATS servers")
	}
	c := startNATSCluster(t, 3)
	conn, err := connectOutside(strings.Join(c.urls, ","), c.seed, "test")
	require.NoError(t, err)
	defer conn.Close()
	gs, err := openGenStore(t.Context(), conn, 0, "the test cluster")
	require.NoError(t, err)
	assert.Equal(t, 3, gs.replicas, "replicas = min(3, servers)")
	for i := range 2 {
		_, err := gs.save(t.Context(), snapOf(3, fmt.Sprint(i)))
		require.NoError(t, err)
	}

	at := conn.ConnectedUrl()
	for i, u := range c.urls {
		if u == at {
			c.srvs[i].Shutdown()
			c.srvs[i].WaitForShutdown()
		}
	}
	// Streams elect new leaders among the two left: retry until then.
	var gen uint64
	t0 := time.Now()
	require.Eventually(t, func() bool {
		gen, err = gs.save(t.Context(), snapOf(3, "after"))
		return err == nil
	}, 60*time.Second, 250*time.Millisecond, "no checkpoint committed with one server of three stopped")
	t.Logf("FIGURE: the first save after the client's server stopped was committed after %v", time.Since(t0).Round(time.Millisecond))
	assert.NotEqual(t, at, conn.ConnectedUrl(), "the client moved to another server")
	s, err := gs.load(t.Context(), 0)
	require.NoError(t, err)
	assert.Equal(t, gen, s.Gen)
	assert.Equal(t, []byte("after/w3"), s.Worlds[2].Blob)
	old, err := gs.load(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, []byte("0/w1"), old.Worlds[0].Blob)
}

// TestOutsideNATSRefusesWrongCredentials: connecting to outside servers
// with a seed they do not know is refused, naming the URLs.
func TestOutsideNATSRefusesWrongCredentials(t *testing.T) {
	e, err := startNATS(dirLayout{t.TempDir()}, true)
	require.NoError(t, err)
	defer e.close()
	other := filepath.Join(t.TempDir(), "other.seed")
	_, err = ensureSeed(other)
	require.NoError(t, err)
	_, err = connectOutside(e.url, other, "test")
	require.Error(t, err)
	assert.ErrorContains(t, err, e.url)
	assert.ErrorContains(t, err, "Authorization")
	_, err = connectOutside(e.url, filepath.Join(t.TempDir(), "missing.seed"), "test")
	assert.ErrorContains(t, err, "NATS credentials")
}

// TestReadsRightAfterACheckpointSeeIt: on three NATS servers, readers
// connected to each of them (the writer's included) load the generation
// just committed at once, every time: neither the generation list, the
// manifest nor the world is answered by a replica that has not applied the
// commit yet (a restore right after a checkpoint loads it).
func TestReadsRightAfterACheckpointSeeIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three clustered NATS servers")
	}
	c := startNATSCluster(t, 3)
	var readers []*genStore
	for _, url := range c.urls {
		conn, err := connectOutside(url, c.seed, "test")
		require.NoError(t, err)
		t.Cleanup(conn.Close)
		gs, err := openGenStore(t.Context(), conn, 0, "the test cluster on "+url)
		require.NoError(t, err)
		readers = append(readers, gs)
	}
	w := readers[0]
	const rounds = 30
	stale := 0
	for i := range rounds {
		gen := commitManifest(t, w)
		for j, r := range readers {
			s, err := r.load(t.Context(), 0)
			if !assert.NoError(t, err, "round %d, reader %d: the newest generation (%d)", i, j, gen) ||
				!assert.Equal(t, gen, s.Gen, "round %d, reader %d: the newest generation", i, j) {
				stale++
			}
		}
	}
	assert.Zero(t, stale, "stale reads in %d rounds of %d readers", rounds, len(readers))
}

// commitManifest stores the world of a new generation of one world and
// commits its manifest, as a checkpoint does (without the retention after
// it), and returns the generation.
func commitManifest(t *testing.T, g *genStore) uint64 {
	t.Helper()
	gen, err := g.nextGen(t.Context())
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("w1"))
	m := manifest{Format: snapshotFormat, Kind: headerKind, Gen: gen, Time: time.Now().UTC(), NextNode: 2,
		Worlds: []manifestWorld{{Node: 1, Hosts: []uint16{1}, Object: objectName(gen, 1), Size: 2, SHA256: hex.EncodeToString(sum[:])}}}
	_, err = g.obj.PutBytes(t.Context(), objectName(gen, 1), []byte("w1"))
	require.NoError(t, err)
	require.NoError(t, g.commit(t.Context(), &m))
	return gen
}
