package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lostFirstGet is a bucket whose first read gets no answer (sent while
// the bucket had no leader) and whose later reads find no key.
type lostFirstGet struct {
	jetstream.KeyValue
	gets atomic.Int32
}

func (k *lostFirstGet) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if k.gets.Add(1) == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, jetstream.ErrKeyNotFound
}

// TestKVReadyAsksAgainAfterALostRead: a read that gets no answer is given
// up after its attempt and sent again, not waited on for the caller's
// whole context (a standby coordinator waited 90 s so and never stood by).
func TestKVReadyAsksAgainAfterALostRead(t *testing.T) {
	defer func(d time.Duration) { jsAttempt = d }(jsAttempt)
	jsAttempt = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv := &lostFirstGet{}
	require.NoError(t, kvReady(ctx, kv))
	assert.Equal(t, int32(2), kv.gets.Load(), "the lost read is sent again")
	assert.NoError(t, ctx.Err(), "kvReady returned before the caller's context ended")
}
