package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A worker's entry in the members bucket lives while it is renewed; the
// entry of a worker that stops renewing (it died without a word) expires
// after memberTTL, and one that stops cleanly is gone at once.
func TestMemberEntryExpiresUnlessRenewed(t *testing.T) {
	oldTTL, oldRenew := memberTTL, memberRenew
	// Renewals come every TTL/8: a loaded machine (race detector, other
	// builds) can stall a renewal for most of a second, and one TTL of 1 s
	// once expired a live entry that way.
	memberTTL, memberRenew = 2*time.Second, 250*time.Millisecond
	t.Cleanup(func() { memberTTL, memberRenew = oldTTL, oldRenew })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc := embeddedConn(t)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	names := bucketNames("east") // registrations go to the bucket of the cluster's name
	kv, err := openMembers(ctx, js, names.Members, 1)
	require.NoError(t, err)
	require.Equal(t, "east_members", kv.Bucket())
	wn := &workerNATS{nc: nc, js: js, names: names}
	nodes := func() []uint16 {
		ms, err := listMembers(ctx, kv)
		require.NoError(t, err)
		var out []uint16
		for _, m := range ms {
			out = append(out, m.Node)
		}
		slices.Sort(out)
		return out
	}

	live, err := register(ctx, wn, member{ID: "live", Node: 1, State: memberReady}, func(err error) { t.Error(err) })
	require.NoError(t, err)
	dead, err := register(ctx, wn, member{ID: "dead", Node: 2, State: memberReady}, func(err error) { t.Error(err) })
	require.NoError(t, err)
	require.Equal(t, []uint16{1, 2}, nodes())

	dead.stop() // stops renewing, deletes nothing: as a kill -9
	<-dead.done
	stopped := time.Now()
	require.Eventually(t, func() bool { return slices.Equal(nodes(), []uint16{1}) }, 30*time.Second, 50*time.Millisecond,
		"the entry of a worker that stopped renewing expires")
	assert.GreaterOrEqual(t, time.Since(stopped), memberTTL/2, "not before its TTL")

	// The renewed entry outlives several TTLs.
	deadline := time.Now().Add(3 * memberTTL)
	for time.Now().Before(deadline) {
		require.Equal(t, []uint16{1}, nodes(), "a renewed entry stays")
		tk := time.NewTimer(100 * time.Millisecond)
		<-tk.C
	}
	live.remove()
	assert.Empty(t, nodes(), "a worker that stops removes its entry")
}

// A worker whose last renewal failed (it dropped the bucket, to open it
// again on the next put) still removes its entry when it stops: it left it
// standing for a TTL, seen once on a loaded machine as a stopped worker
// still listed.
func TestMemberRemovedAfterAFailedRenewal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc := embeddedConn(t)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	names := bucketNames("west")
	kv, err := openMembers(ctx, js, names.Members, 1)
	require.NoError(t, err)
	wn := &workerNATS{nc: nc, js: js, names: names}
	r, err := register(ctx, wn, member{ID: "w", Node: 4, State: memberReady}, func(err error) { t.Error(err) })
	require.NoError(t, err)
	r.stop()
	<-r.done
	r.mu.Lock()
	r.kv = nil // as a put that timed out leaves it
	r.mu.Unlock()
	r.remove()
	ms, err := listMembers(ctx, kv)
	require.NoError(t, err)
	assert.Empty(t, ms, "a worker that stops removes its entry")
}

func FuzzMember(f *testing.F) {
	f.Add([]byte(`{"id":"ab12","node":3,"pid":7,"host":"h","host_id":"0123456789ab","tcp":"10.0.0.2:7000","marker":5,"state":"ready","since":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"","node":3,"state":"ready"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMember(b)
		if err != nil {
			if m != (member{}) {
				t.Fatalf("a refused entry came back filled: %+v", m)
			}
			return
		}
		if m.ID == "" || len(m.ID) > 64 || m.Node > maxWorkerNode || m.State != memberReady {
			t.Fatalf("accepted an entry that breaks the rules: %+v", m)
		}
	})
}
