package cluster

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLeaderGetReadsWhatTheBucketHolds: a Get through the stream's leader
// returns the newest value and its revision, and "not found" for a key
// never put, deleted or purged, like the bucket's own Get; the same bucket
// read directly agrees (its config is untouched, for older versions).
func TestLeaderGetReadsWhatTheBucketHolds(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	kv := gs.kv
	require.IsType(t, leaderKV{}, kv, "the manifests are read through the leader")
	direct, err := gs.js.KeyValue(ctx, gs.names.Manifests)
	require.NoError(t, err)

	_, err = kv.Put(ctx, "a", []byte("1"))
	require.NoError(t, err)
	r2, err := kv.Put(ctx, "a", []byte("2"))
	require.NoError(t, err)
	e, err := kv.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, []byte("2"), e.Value())
	assert.Equal(t, r2, e.Revision())
	assert.Equal(t, "a", e.Key())
	assert.Equal(t, gs.names.Manifests, e.Bucket())
	assert.Equal(t, jetstream.KeyValuePut, e.Operation())
	d, err := direct.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, d.Revision(), e.Revision(), "the direct get agrees")

	_, err = kv.Put(ctx, "b", []byte("x"))
	require.NoError(t, err)
	require.NoError(t, kv.Delete(ctx, "b"))
	_, err = kv.Put(ctx, "c", []byte("x"))
	require.NoError(t, err)
	require.NoError(t, kv.Purge(ctx, "c"))
	for _, key := range []string{"never", "b", "c"} {
		_, err := kv.Get(ctx, key)
		assert.ErrorIs(t, err, jetstream.ErrKeyNotFound, key)
		_, err = direct.Get(ctx, key)
		assert.ErrorIs(t, err, jetstream.ErrKeyNotFound, "%s, read directly", key)
	}
	assert.Equal(t, kv, readFromLeader(kv, gs.nc), "wrapped once")
}
