package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// JetStream acknowledges a write before it syncs it, every 2 minutes by
// default: after an OS crash or a power cut the embedded store could have
// lost checkpoints and journaled effect results it had acknowledged. The
// embedded server syncs every write, as the store package's bbolt syncs
// every commit.
func TestTheEmbeddedStoreSyncsEveryWrite(t *testing.T) {
	e, err := startNATS(dirLayout{t.TempDir()}, false)
	require.NoError(t, err)
	defer e.close()
	jsc := e.srv.JetStreamConfig()
	require.NotNil(t, jsc, "JetStream is on")
	assert.True(t, jsc.SyncAlways)
}

// A world bigger than the server's stream ingest queue (128 MiB by
// default) was refused with "429 too many requests": its chunks are
// published without waiting for acks, faster than a store that syncs every
// write takes them, so the queue overflowed and no world of a few hundred
// thousand tasklets a worker could be stored. Two 80 MB worlds stored at
// once failed the same way.
func TestTheEmbeddedStoreTakesABigWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MB with every write synced (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gs := openTestStore(t, 2)
	blob := make([]byte, 200<<20)
	for i := range blob {
		blob[i] = byte(i * 131)
	}
	info, err := gs.obj.PutBytes(ctx, "g1/w1", blob)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(blob)), info.Size)
}

// A write refused because a stream's ingest queue is full (an external
// server's queue, several big worlds at once) is tried again, after a
// pause that grows: the queue drains as the server writes what it holds.
func TestABusyStreamIsTriedAgain(t *testing.T) {
	busy := &jetstream.APIError{Code: 429, ErrorCode: 10167, Description: "too many requests"}
	assert.True(t, natsTransient(busy))
	assert.True(t, natsTransient(fmt.Errorf("store object g3/w1: %w", busy)))
	assert.False(t, natsTransient(&jetstream.APIError{Code: 400, Description: "bad request"}))
	tries := 0
	var at []time.Time
	err := retryJS(t.Context(), time.Second, func(context.Context) error {
		tries++
		at = append(at, time.Now())
		if tries < 4 {
			return busy
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 4, tries)
	for i, least := range []time.Duration{50, 100, 200} { // the pause grows
		assert.GreaterOrEqual(t, at[i+1].Sub(at[i]), least*time.Millisecond, "pause %d", i+1)
	}
}
