package hugepage

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Force advises the aligned middle of a fresh block, and the kernel keeps
// the advice on that mapping only.
func TestForceAdvisesTheAlignedPart(t *testing.T) {
	hp := int(Size())
	bytes := 3 * hp // an aligned huge page inside, whatever the alignment
	block, other := make([]byte, bytes), make([]byte, bytes)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(block)))

	at, n, err := Force(unsafe.Pointer(unsafe.SliceData(block)), uintptr(bytes))
	if _, _, merr := Mode(); merr != nil { // a kernel without them refuses the advice
		require.Error(t, err)
		return
	}
	require.NoError(t, err)
	assert.Zero(t, at%uintptr(hp), "starts on a huge page")
	assert.Zero(t, n%hp)
	assert.GreaterOrEqual(t, n, bytes-2*hp, "all of the block but its unaligned ends")
	assert.GreaterOrEqual(t, at, p)
	assert.LessOrEqual(t, at+uintptr(n), p+uintptr(bytes))

	ok, err := Advised(at, n)
	require.NoError(t, err)
	assert.True(t, ok, "the kernel keeps the advice (VmFlags hg)")
	ok, err = Advised(uintptr(unsafe.Pointer(unsafe.SliceData(other))), bytes)
	require.NoError(t, err)
	assert.False(t, ok, "a block nobody advised")
	runtime.KeepAlive(block)
	runtime.KeepAlive(other)
}

// A block too small to hold an aligned huge page gets no advice.
func TestForceSkipsSmallBlocks(t *testing.T) {
	small := make([]byte, Size()/2)
	at, n, err := Force(unsafe.Pointer(unsafe.SliceData(small)), uintptr(len(small)))
	require.NoError(t, err)
	assert.Zero(t, at)
	assert.Zero(t, n)
}

// The setting is the word in brackets, whatever its place.
func TestParseMode(t *testing.T) {
	for raw, want := range map[string]string{
		"always [madvise] never": "madvise",
		"[always] madvise never": "always",
		"always madvise [never]": "never",
		"always madvise never":   "",
		"":                       "",
		"[sometimes]":            "",
	} {
		assert.Equal(t, want, parseMode(raw), "%q", raw)
	}
}

// fresh maps n bytes of memory nothing has touched.
func fresh(t *testing.T, n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Munmap(b) })
	return b
}

// Fault puts a chunk's first two aligned huge pages in memory, gives the
// chooser a sample of each, advises the rest as it said, and leaves the
// rest untouched.
func TestFaultSamplesTheChunksFirstPages(t *testing.T) {
	mode := kernelMode()
	hp := int(Size())
	saved := choice.chooser
	t.Cleanup(func() { choice.chooser = saved })
	choice.chooser = chooser{}

	b := fresh(t, 5*hp) // at least four aligned huge pages
	p := uintptr(unsafe.Pointer(&b[0]))
	off, _, _ := aligned(p, uintptr(len(b)), uintptr(hp))
	beg := int(off)
	require.False(t, Resident(b), "fresh memory is not in memory yet")
	restHuge := Fault(unsafe.Pointer(&b[0]), uintptr(len(b)))
	if mode != "madvise" && mode != "always" {
		assert.False(t, restHuge)
		assert.False(t, Resident(b), "no huge pages here (%q): nothing done", mode)
		return
	}
	assert.True(t, Resident(b[beg:beg+hp]), "first aligned huge page sampled")
	assert.True(t, Resident(b[beg+hp:beg+2*hp]), "second aligned huge page sampled")
	assert.False(t, Resident(b[beg+2*hp:beg+3*hp]), "the rest is left to fault in as it is used")
	assert.Len(t, choice.costs[huge], 1, "the first sample is of huge pages")
	assert.Len(t, choice.costs[small], 1, "the second, of the rest's size: small until measured")
	assert.False(t, restHuge)
	if mode == "madvise" {
		ok, err := Advised(p+uintptr(beg), hp)
		require.NoError(t, err)
		assert.True(t, ok, "the huge sample is advised")
		ok, err = Advised(p+uintptr(beg+hp), 2*hp)
		require.NoError(t, err)
		assert.False(t, ok, "the rest, on small pages, is not")
		ok, err = vmFlag(p+uintptr(beg+hp), 2*hp, "nh")
		require.NoError(t, err)
		assert.True(t, ok, "the rest is kept off huge pages (VmFlags nh), whatever advice it had")
	}
	var zeros int
	for _, v := range b {
		if v == 0 {
			zeros++
		}
	}
	assert.Equal(t, len(b), zeros, "faulting in leaves the memory zero")
}

// A chunk without an aligned huge page, or one already in memory, tells
// the chooser nothing.
func TestFaultSkipsSmallAndResidentChunks(t *testing.T) {
	hp := int(Size())
	saved := choice.chooser
	t.Cleanup(func() { choice.chooser = saved })
	choice.chooser = chooser{}

	b := fresh(t, hp/2)
	Fault(unsafe.Pointer(&b[0]), uintptr(len(b)))
	assert.False(t, Resident(b), "too small to hold a huge page: untouched")

	warm := fresh(t, 3*hp)
	for i := range warm {
		warm[i] = 0
	}
	Fault(unsafe.Pointer(&warm[0]), uintptr(len(warm)))
	assert.Empty(t, choice.costs[huge], "memory in use already is no sample")
	assert.Empty(t, choice.costs[small])
}

// Both ways of faulting in put every page in memory and leave it zero:
// MADV_POPULATE_WRITE, and the writes of kernels before 5.14.
func TestPopulateFaultsInEveryPage(t *testing.T) {
	for name, fault := range map[string]func([]byte){"populate": populate, "touch": touch} {
		b := fresh(t, 64*4096)
		fault(b)
		vec, err := mincore(b)
		require.NoError(t, err)
		require.Len(t, vec, 64)
		for i, v := range vec {
			assert.Equal(t, byte(1), v&1, "%s: page %d in memory", name, i)
		}
		assert.Equal(t, make([]byte, len(b)), b, "%s: still zero", name)
	}
}

// Schedulers on several goroutines ready chunks at once: the chooser is
// the process's, and keeps at most keep samples of each size.
func TestFaultFromManyGoroutines(t *testing.T) {
	hp := int(Size())
	saved := choice.chooser
	t.Cleanup(func() { choice.chooser = saved })
	choice.chooser = chooser{}
	chunks := make([][]byte, 8)
	for i := range chunks {
		chunks[i] = fresh(t, 3*hp)
	}
	var wg sync.WaitGroup
	for _, b := range chunks {
		wg.Go(func() { Fault(unsafe.Pointer(&b[0]), uintptr(len(b))) })
	}
	wg.Wait()
	if m := kernelMode(); m != "madvise" && m != "always" {
		return
	}
	n := len(choice.costs[small]) + len(choice.costs[huge])
	assert.Positive(t, n, "samples taken")
	assert.LessOrEqual(t, len(choice.costs[small]), keep)
	assert.LessOrEqual(t, len(choice.costs[huge]), keep)
	for _, b := range chunks {
		beg, _, _ := aligned(uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(hp))
		assert.True(t, Resident(b[beg:beg+uintptr(hp)]), "every chunk's first aligned huge page faulted in")
	}
}

// The aligned part of a block: whole pages inside it, and none where the
// block ends before its first page boundary (end would wrap past the block
// there, and the chunk's neighbour, not the chunk, would be advised).
func TestAlignedPart(t *testing.T) {
	const hp = 2 << 20
	for _, c := range []struct {
		a, n     uintptr
		beg, end uintptr
		ok       bool
	}{
		{a: 4 * hp, n: 3 * hp, beg: 0, end: 3 * hp, ok: true},
		{a: 4*hp + 4096, n: 3 * hp, beg: hp - 4096, end: 3*hp - 4096, ok: true},
		{a: 4*hp + 4096, n: hp, ok: false},     // crosses a boundary, holds no whole page
		{a: 4*hp + 4096, n: hp / 2, ok: false}, // ends before the boundary: end wraps
		{a: 4 * hp, n: hp - 1, ok: false},
		{a: 4 * hp, n: 0, ok: false},
	} {
		beg, end, ok := aligned(c.a, c.n, hp)
		assert.Equal(t, c.ok, ok, "%#x+%#x", c.a, c.n)
		if c.ok {
			assert.Equal(t, c.beg, beg, "%#x+%#x", c.a, c.n)
			assert.Equal(t, c.end, end, "%#x+%#x", c.a, c.n)
		}
	}
}
