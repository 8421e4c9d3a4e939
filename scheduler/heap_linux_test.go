package scheduler

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stackless-go/stackless/internal/hugepage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReserveHeap advises huge pages for the heap the next allocations take,
// where the kernel offers them, and says so where it does not.
func TestReserveHeapAdvisesHugePages(t *testing.T) {
	bytes := max(64<<20, 3*int(hugepage.Size())) // an aligned huge page inside, whatever the alignment
	if hugePagesOn() != nil {
		n, err := ReserveHeap(bytes)
		require.ErrorIs(t, err, ErrNoHugePages)
		assert.Zero(t, n)
		assert.Contains(t, err.Error(), hugepage.EnabledFile)
		return
	}
	n, err := ReserveHeap(bytes)
	require.NoError(t, err)
	hp := int(hugepage.Size())
	assert.Positive(t, n)
	assert.GreaterOrEqual(t, n, bytes-2*hp, "all of the block but its unaligned ends")
	assert.Zero(t, n%hp)

	at, n, err := adviseHeap(bytes)
	require.NoError(t, err)
	ok, err := hugepage.Advised(at, n)
	require.NoError(t, err)
	assert.True(t, ok, "the advised part is mapped after the block died, and the kernel keeps the advice (VmFlags hg)")
}

func TestReserveHeapRefusesSizesItCannotTake(t *testing.T) {
	for _, bytes := range []int{0, -1} {
		_, err := ReserveHeap(bytes)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "more than zero")
	}
	if hugePagesOn() == nil {
		_, err := ReserveHeap(1 << 62)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "more than this machine's memory")
	}
}

// A block the runtime cannot map under ulimit -v killed the process
// ("fatal error: out of memory"); it is refused, with what would fit. So is
// one that fits but leaves less than half the room: the block stays mapped.
func TestReserveHeapUnderAnAddressSpaceLimit(t *testing.T) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	lim := vmSize(t) + 300<<20
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	_, err := ReserveHeap(1 << 30)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &old))
	require.Error(t, err)
	if hugePagesOn() != nil {
		assert.ErrorIs(t, err, ErrNoHugePages)
		return
	}
	assert.Contains(t, err.Error(), "1073741824 bytes are more than half of what ulimit -v (RLIMIT_AS) of ")
	assert.Contains(t, err.Error(), "reserve at most ")

	// Fits, but would leave the process less than half its room.
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: vmSize(t) + 200<<20, Max: old.Max}))
	_, err = ReserveHeap(150 << 20)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &old))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than half of what ulimit -v (RLIMIT_AS)")
}

func TestCommitLeftReadsMeminfo(t *testing.T) {
	left, ok := commitLeft("MemTotal:       16384000 kB\nCommitLimit:     8000000 kB\nCommitted_AS:    3000000 kB\n")
	require.True(t, ok)
	assert.Equal(t, uint64(5000000)<<10, left)
	left, ok = commitLeft("CommitLimit: 100 kB\nCommitted_AS: 300 kB\n")
	require.True(t, ok)
	assert.Zero(t, left, "committed past the limit leaves nothing")
	_, ok = commitLeft("MemTotal: 1 kB\n")
	assert.False(t, ok)
}

// vmSize is the process's address space in bytes (/proc/self/status).
func vmSize(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}
