package cluster

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A NATS server of one's own whose JetStream store is full (its
// max_file_store, by default three quarters of the disk's free space when
// it started) refuses a write at once with "insufficient resources"
// (503, 10023), which stays until space is freed: a checkpoint fails at
// once saying so and what to do, instead of retrying it until its
// deadline as if JetStream had no leader for now.
func TestCheckpointOnAFullOutsideNATSFailsAtOnce(t *testing.T) {
	_, _, conn, gs := smallStore(t)
	first, err := gs.save(t.Context(), snapOf(2, "small"))
	require.NoError(t, err)

	big := snapOf(2, "big")
	for i := range big.Worlds {
		big.Worlds[i].Blob = bytes.Repeat([]byte{byte(i)}, 700<<10) // two of them are over the limit
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err = gs.save(ctx, big)
	took := time.Since(t0)
	t.Logf("the save took %v and said: %v", took, err)
	require.Error(t, err)
	assert.Less(t, took, 5*time.Second, "the save retried a full store")
	assert.ErrorContains(t, err, "insufficient resources")
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.ErrorContains(t, err, "stackless checkpoint rm")

	s, err := gs.load(t.Context(), 0)
	require.NoError(t, err, "the generation stored before loads")
	assert.Equal(t, first, s.Gen)

	// Filled by another stream, the store refuses the first write of a
	// checkpoint (its generation number) at once too; room made, the next
	// checkpoint is stored.
	free := fillNATS(t, conn)
	t0 = time.Now()
	_, err = gs.save(ctx, snapOf(2, "small"))
	assert.Less(t, time.Since(t0), 5*time.Second, "the save retried a full store")
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.ErrorContains(t, err, "take a generation number")
	free()
	_, err = gs.save(ctx, snapOf(2, "small"))
	assert.NoError(t, err)
}

// startSmallNATS runs one NATS server with JetStream on loopback, as a
// cluster's outside server (Config.NATS), whose store holds maxStore bytes
// in all: its URL and the seed file it lets in.
// smallStore connects to a NATS server whose JetStream store holds 1 MiB
// and opens the checkpoint buckets on it; the connection closes with t.
func smallStore(t *testing.T) (url, seed string, conn *nats.Conn, gs *genStore) {
	t.Helper()
	url, seed = startSmallNATS(t, 1<<20)
	conn, err := connectOutside(url, seed, "test")
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	gs, err = openGenStore(t.Context(), conn, 0, "the test servers")
	require.NoError(t, err)
	return url, seed, conn, gs
}

func startSmallNATS(t testing.TB, maxStore int64) (url, seed string) {
	t.Helper()
	root := t.TempDir()
	seed = filepath.Join(root, "user.seed")
	kp, err := ensureSeed(seed)
	require.NoError(t, err)
	pub, _ := kp.PublicKey()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: filepath.Join(root, "js"), JetStreamMaxStore: maxStore,
		NoLog: true, NoSigs: true, Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	require.True(t, srv.ReadyForConnections(natsServerReady), "the NATS server did not start")
	return srv.ClientURL(), seed
}

// fillNATS fills the JetStream store of conn's server with a stream of its
// own until the server refuses more, and returns the function that deletes
// the stream again.
func fillNATS(t testing.TB, conn *nats.Conn) (free func()) {
	t.Helper()
	js, err := jetstream.New(conn)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill"}})
	require.NoError(t, err)
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the server took 64 MB and did not refuse more")
		if _, err := js.Publish(t.Context(), "fill", bytes.Repeat([]byte{'f'}, 64<<10)); err != nil {
			require.ErrorContains(t, err, "insufficient resources")
			break
		}
	}
	return func() { require.NoError(t, js.DeleteStream(t.Context(), "FILL")) }
}
