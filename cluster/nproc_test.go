package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `cluster up -n 40` under `ulimit -u 30` crashed with SIGABRT
// ("runtime/cgo: pthread_create failed") and pages of registers; now it
// is refused up front with what fits.
func TestCheckTasks(t *testing.T) {
	assert.NoError(t, checkTasks(2, 100, 50), "11 + 2*8 = 27 fit in 50 left")

	err := checkTasks(40, 30, 3)
	require.Error(t, err)
	assert.Equal(t, "cluster: 40 workers need about 331 threads (11 for the coordinator, 8 per worker), and this user may run 30 (ulimit -u, RLIMIT_NPROC), 3 of them already: run at most 2 workers (-n 2), or raise the limit (ulimit -u)", err.Error())
	assert.NoError(t, checkTasks(2, 30, 3), "the -n it names fits")

	err = checkTasks(1, 18, 8)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "end some (this user runs other processes), or raise the limit (ulimit -u)")
}
