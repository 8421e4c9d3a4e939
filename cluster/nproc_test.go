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

// `cluster restore -n 40` was not checked at all: it would have crashed
// the coordinator as `cluster up -n 40` did.
func TestCheckMoreTasks(t *testing.T) {
	assert.NoError(t, checkMoreTasks(4, 2, 0, 30, 29), "fewer workers never need more")
	assert.NoError(t, checkMoreTasks(2, 4, 0, 100, 30), "11 + 2*8 more fit in 70 left")

	err := checkMoreTasks(2, 40, 1, 60, 30)
	require.Error(t, err)
	assert.Equal(t, "cluster: restore onto 40 local workers starts 38 more than run now, about 304 threads more (8 per worker), and this user may run 60 (ulimit -u, RLIMIT_NPROC), 30 of them already besides the coordinator's 11: restore onto at most 4 workers here (-n 5), or raise the limit (ulimit -u)", err.Error())
	assert.NoError(t, checkMoreTasks(2, 4, 1, 60, 30), "the -n it names fits")

	err = checkMoreTasks(1, 2, 0, 35, 30)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "end some (this user runs other processes)")
}
