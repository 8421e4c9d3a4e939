package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuditTellsALossFromAFailedCheckpoint: objects above the counter with
// no manifest are a loss only a damaged store makes; objects of a
// checkpoint that died half way are below it and are no loss; a counter
// behind the stored generations is raised above them.
func TestAuditTellsALossFromAFailedCheckpoint(t *testing.T) {
	gs := openTestStore(t, 0)
	ctx := t.Context()
	for i := range 3 {
		_, err := gs.save(ctx, snapOf(2, fmt.Sprint(i)))
		require.NoError(t, err)
	}
	need, err := gs.audit(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), need)

	// A checkpoint that died after its objects: no loss.
	half, err := gs.nextGen(ctx)
	require.NoError(t, err)
	_, err = gs.obj.PutBytes(ctx, objectName(half, 1), []byte("half"))
	require.NoError(t, err)
	need, err = gs.audit(ctx)
	require.NoError(t, err, "a failed checkpoint's objects are below the counter")
	assert.Equal(t, half, need)

	// The counter lost, every manifest kept: nothing lost, but the next
	// generation must not reuse a number.
	require.NoError(t, gs.kv.Purge(ctx, genKey))
	need, err = gs.audit(ctx)
	require.Error(t, err, "the half checkpoint's object is now above the (missing) counter")
	var lost *lostError
	require.True(t, errors.As(err, &lost))
	assert.ErrorIs(t, err, ErrLost)
	assert.Equal(t, half, lost.lo)
	assert.Equal(t, half, lost.hi)
	assert.Equal(t, 1, lost.objects)
	assert.Contains(t, err.Error(), "generation 4,")
	assert.Contains(t, err.Error(), "counter is gone")
	require.NoError(t, gs.raiseCounter(ctx, need))
	next, err := gs.nextGen(ctx)
	require.NoError(t, err)
	assert.Equal(t, half+1, next, "numbers go on above every generation the store holds")
	_, err = gs.audit(ctx)
	require.NoError(t, err)

	// The newest manifests and the counter lost (the block that held them
	// damaged): generations 2 and 3 are lost, 1 is not.
	require.NoError(t, gs.kv.Purge(ctx, manifestKey(2)))
	require.NoError(t, gs.kv.Purge(ctx, manifestKey(3)))
	_, err = gs.kv.Put(ctx, genKey, []byte("1"))
	require.NoError(t, err)
	need, err = gs.audit(ctx)
	require.True(t, errors.As(err, &lost), "%v", err)
	assert.Equal(t, uint64(2), lost.lo)
	assert.Equal(t, half, lost.hi)
	assert.Equal(t, 5, lost.objects, "two worlds each of 2 and 3, and the half checkpoint's")
	assert.Contains(t, err.Error(), "generations 2-4")
	assert.Contains(t, err.Error(), "counter says 1")
	assert.Equal(t, half, need)
	require.NoError(t, gs.raiseCounter(ctx, need))
	require.NoError(t, gs.raiseCounter(ctx, 2), "never lowered")
	next, err = gs.nextGen(ctx)
	require.NoError(t, err)
	assert.Equal(t, half+1, next)
}
