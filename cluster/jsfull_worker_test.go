package cluster

import (
	"bytes"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The worker writes to JetStream on its own twice: its world at a
// checkpoint (putWorld) and its effects' results (the journal). On a store
// that is full ("insufficient resources", 503, 10023) each fails at once
// with ErrStoreBroken and what to do. The journal took that 503 for a
// leader election and published again for journalRetry (2 min) while the
// tasklet waited.
func TestWorkerWritesOnAFullOutsideNATSFailAtOnce(t *testing.T) {
	defer func(r time.Duration) { journalRetry = r }(journalRetry)
	journalRetry = 20 * time.Second // the bound the test waits at most, not a fix
	url, seed, conn, gs := smallStore(t)
	_, err := createJournal(t.Context(), gs.js, journalBucket, 1, 64<<10)
	require.NoError(t, err)
	j, err := openJournal(t.Context(), conn, journalBucket, pickle.NewRegistry(), "the test servers")
	require.NoError(t, err)
	defer j.Close()
	js, err := jetstream.New(conn)
	require.NoError(t, err)
	wn := &workerNATS{cfg: WorkerConfig{NATS: url, Creds: seed}, nc: conn, js: js, names: bucketNames("")}

	key := scheduler.EffectKey{Tasklet: tasklet.ID(1<<tasklet.NodeBits | 1), Step: 1}
	require.NoError(t, record(t, j, key, scheduler.EffectResult{Effect: "fetch", Req: 1, Resp: "before"}), "the store has room yet")
	_, err = wn.putWorld(t.Context(), "w1.before", []byte("world"))
	require.NoError(t, err)

	free := fillNATS(t, conn)
	t0 := time.Now()
	key.Step = 2
	err = record(t, j, key, scheduler.EffectResult{Effect: "fetch", Req: 2, Resp: "after"})
	took := time.Since(t0)
	t.Logf("the record took %v and said: %v", took, err)
	require.Error(t, err)
	assert.Less(t, took, 5*time.Second, "the journal retried a full store")
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.ErrorContains(t, err, journalBucket, "it names the bucket")
	assert.ErrorContains(t, err, "make room")

	t0 = time.Now()
	_, err = wn.putWorld(t.Context(), "w1.after", bytes.Repeat([]byte{'w'}, 64<<10))
	took = time.Since(t0)
	t.Logf("the world's put took %v and said: %v", took, err)
	require.Error(t, err)
	assert.Less(t, took, 5*time.Second, "the put retried a full store")
	assert.ErrorIs(t, err, ErrStoreBroken)
	assert.ErrorContains(t, err, "w1.after")

	free() // room made, both write again
	key.Step = 3
	assert.NoError(t, record(t, j, key, scheduler.EffectResult{Effect: "fetch", Req: 3, Resp: "room"}))
	_, err = wn.putWorld(t.Context(), "w1.again", []byte("world"))
	assert.NoError(t, err)
}
