package memlimit

import (
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limit of address space is found, with what the process uses of it.
func TestTightestReadsTheAddressSpaceLimit(t *testing.T) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	used := status("VmSize:")
	require.NotZero(t, used)
	lim := used + 64<<30 // far above anything this test takes
	if old.Cur < lim {
		t.Fatalf("the test needs RLIMIT_AS above %d, it is %d", lim, old.Cur)
	}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_AS, &old) })

	l, ok := Tightest()
	require.True(t, ok)
	if l.Name == AddressSpace {
		assert.Equal(t, lim, l.Bytes)
		assert.InDelta(t, float64(used), float64(l.Used), float64(256<<20))
		assert.InDelta(t, float64(lim-used), float64(l.Left()), float64(256<<20))
	} else {
		assert.Less(t, l.Left(), lim-used, "a cgroup limit tighter than RLIMIT_AS: %v", l)
	}
	assert.Contains(t, l.String(), "in use")
}

func TestBytes(t *testing.T) {
	assert.Equal(t, "3.2 GB", Bytes(3_210_000_000))
	assert.Equal(t, "512 MB", Bytes(512_000_000))
	assert.Equal(t, "900 kB", Bytes(900_000))
	assert.Equal(t, uint64(0), Limit{Bytes: 1, Used: 2}.Left())
}

// The collector is told of the limit: without it, a game of 750,000
// entities died out of memory under ulimit -v 3300000 (2 runs of 2) at the
// peak of its heap; with it, both runs finished.
func TestGuideGC(t *testing.T) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	lim := status("VmSize:") + 64<<30
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_AS, &old) })
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	t.Setenv("GOMEMLIMIT", "")
	got := GuideGC()
	l, _ := Tightest()
	assert.Greater(t, got, int64(l.Left()/2))
	assert.Equal(t, got, debug.SetMemoryLimit(-1))

	debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "off")
	assert.Zero(t, GuideGC(), "the user's GOMEMLIMIT wins")
	assert.Equal(t, before, debug.SetMemoryLimit(-1))
}
