package scheduler

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReserveHeap advises huge pages for the heap the next allocations take,
// where the kernel offers them, and says so where it does not.
func TestReserveHeapAdvisesHugePages(t *testing.T) {
	const bytes = 64 << 20
	if hugePagesOn() != nil {
		n, err := ReserveHeap(bytes)
		require.ErrorIs(t, err, ErrNoHugePages)
		assert.Zero(t, n)
		assert.Contains(t, err.Error(), thpEnabled)
		return
	}
	n, err := ReserveHeap(bytes)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, bytes-2*hugePage, "all of the block but its unaligned ends")
	assert.Zero(t, n%hugePage)

	at, n, err := adviseHeap(bytes)
	require.NoError(t, err)
	areas := heapAreas(t, at, at+uintptr(n))
	require.NotEmpty(t, areas, "the advised part is mapped after the block died")
	for _, a := range areas {
		assert.Contains(t, a.flags, "hg", "mapping %x-%x: the kernel keeps the advice (VmFlags)", a.beg, a.end)
	}
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

type area struct {
	beg, end uintptr
	flags    string
}

// heapAreas lists the mappings of /proc/self/smaps that overlap [beg, end).
func heapAreas(t *testing.T, beg, end uintptr) []area {
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	var out []area
	var cur *area
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if cur != nil {
				cur.flags = rest
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-")
		if !ok {
			continue
		}
		a, errA := strconv.ParseUint(lo, 16, 64)
		b, errB := strconv.ParseUint(hi, 16, 64)
		if errA != nil || errB != nil {
			continue
		}
		if cur = nil; uintptr(a) < end && uintptr(b) > beg {
			cur = &area{beg: uintptr(a), end: uintptr(b)}
		}
	}
	require.NoError(t, sc.Err())
	return out
}
