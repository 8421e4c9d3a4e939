package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitDescriptors makes nofileLimit report n for the rest of the test.
func limitDescriptors(t *testing.T, n uint64) {
	old := nofileLimit
	nofileLimit = func() (uint64, bool) { return n, true }
	t.Cleanup(func() { nofileLimit = old })
}

// Under `ulimit -n 64`, `cluster up -n 8` used to start, run out of
// descriptors half way and fail with a worker that "exited while
// starting", blaming caps of pending connections; it is refused before
// anything starts, naming the limit and what fits in it.
func TestStartRefusesMoreWorkersThanTheDescriptorLimitHolds(t *testing.T) {
	limitDescriptors(t, 64)
	dir := t.TempDir()
	_, err := Start(t.Context(), Config{Dir: dir, Workers: 8})
	require.Error(t, err)
	assert.ErrorContains(t, err, "8 workers need about 104 file descriptors")
	assert.ErrorContains(t, err, "may open 64 (ulimit -n)")
	assert.ErrorContains(t, err, "run at most 4 workers")
	assert.NoDirExists(t, dir+"/nats", "nothing started")
}

func TestCheckDescriptors(t *testing.T) {
	limitDescriptors(t, 64)
	assert.NoError(t, checkDescriptors(4), "4 workers fit in 64 (57 measured)")
	assert.Error(t, checkDescriptors(5))
	limitDescriptors(t, 20)
	assert.ErrorContains(t, checkDescriptors(1), "run at most 0 workers")
}
