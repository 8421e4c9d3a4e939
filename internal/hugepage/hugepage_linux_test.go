package hugepage

import (
	"runtime"
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

// Advise advises only where the kernel's setting is madvise: at always
// the kernel needs no advice, at never it would ignore it.
func TestAdviseFollowsTheKernelsSetting(t *testing.T) {
	mode, raw, err := Mode()
	block := make([]byte, 3*Size())
	at, n, aerr := Advise(unsafe.Pointer(unsafe.SliceData(block)), uintptr(len(block)))
	require.NoError(t, aerr)
	if err != nil || mode != "madvise" {
		assert.Zero(t, n, "setting %q", raw)
		return
	}
	require.Positive(t, n)
	ok, err := Advised(at, n)
	require.NoError(t, err)
	assert.True(t, ok, "the kernel keeps the advice (VmFlags hg)")
	runtime.KeepAlive(block)
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
