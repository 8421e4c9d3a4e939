package cluster

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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

// freePorts reserves n loopback ports (closed again before use).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func startNATSCluster(t testing.TB, n int) *natsCluster {
	t.Helper()
	root := t.TempDir()
	kp, err := ensureSeed(filepath.Join(root, "user.seed"))
	require.NoError(t, err)
	pub, _ := kp.PublicKey()
	client, routes := freePorts(t, n), freePorts(t, n)
	var rurls []*url.URL
	for _, p := range routes {
		rurls = append(rurls, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	nc := &natsCluster{seed: filepath.Join(root, "user.seed")}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("m%d", i+1), Host: "127.0.0.1", Port: client[i],
			JetStream: true, StoreDir: filepath.Join(root, fmt.Sprintf("m%d", i+1)),
			NoLog: true, NoSigs: true, Nkeys: []*server.NkeyUser{{Nkey: pub}},
			Cluster: server.ClusterOpts{Name: "stackless-test", Host: "127.0.0.1", Port: routes[i]},
			Routes:  rurls,
		}
		if n == 1 { // a single server: no cluster to form
			opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
		}
		s, err := server.NewServer(opts)
		require.NoError(t, err)
		s.Start()
		nc.srvs = append(nc.srvs, s)
		nc.urls = append(nc.urls, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
	}
	t.Cleanup(func() {
		for _, s := range nc.srvs {
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
	for _, s := range nc.srvs {
		require.True(t, s.ReadyForConnections(30*time.Second))
	}
	// JetStream is usable once the servers elected a meta leader.
	require.Eventually(t, func() bool {
		for _, s := range nc.srvs {
			if s.JetStreamIsLeader() || (n == 1 && s.JetStreamEnabled()) {
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "the NATS cluster elected no JetStream leader")
	return nc
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
	require.Eventually(t, func() bool {
		gen, err = gs.save(t.Context(), snapOf(3, "after"))
		return err == nil
	}, 60*time.Second, 250*time.Millisecond, "no checkpoint committed with one server of three stopped")
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
