package core

import (
	"testing"
	"unsafe"

	"github.com/stackless-go/stackless/internal/hugepage"
)

type behavior struct {
	A, B int64
	P    *int
	_    [40]byte
}

// Without a world being built a slab is the allocator: no chunk, each
// value its own.
func TestSlabWithoutAWorldIsNew(t *testing.T) {
	var s Slab[behavior]
	a, b := s.New(0), s.New(0)
	if a == b || a == nil || b == nil {
		t.Fatalf("New(0) gave %p and %p, want two values", a, b)
	}
	if s.Left() != 0 {
		t.Fatalf("New(0) took a chunk of %d", s.Left()+1)
	}
}

// While a world is built a slab hands out a chunk's values in turn, each
// zero, then takes the next chunk; a chunk holds at most chunkBytes.
func TestSlabHandsOutChunks(t *testing.T) {
	var s Slab[behavior]
	first := s.New(100)
	if s.Left() != 99 {
		t.Fatalf("a chunk of 100 has %d left after the first", s.Left())
	}
	size := unsafe.Sizeof(behavior{})
	prev := first
	for i := 1; i < 100; i++ {
		p := s.New(100)
		if uintptr(unsafe.Pointer(p))-uintptr(unsafe.Pointer(prev)) != size {
			t.Fatalf("value %d of the chunk is at %p, the one before at %p", i, p, prev)
		}
		if *p != (behavior{}) {
			t.Fatalf("value %d is not zero: %+v", i, *p)
		}
		p.A = int64(i)
		prev = p
	}
	s.New(0)
	if s.Left() != 0 {
		t.Fatalf("with the chunk used up, New(0) took a chunk of %d", s.Left()+1)
	}
	s.New(1 << 30)
	if want := int(chunkBytes/size) - 1; s.Left() != want {
		t.Fatalf("a chunk asked for 1<<30 values has %d left, want %d (chunkBytes)", s.Left(), want)
	}
	if first.A != 0 || prev.A != 99 {
		t.Fatalf("values of the first chunk changed: %d, %d", first.A, prev.A)
	}
}

// Values too big to share a chunk, and values of no size, come from the
// allocator.
func TestSlabLeavesOddSizesToTheAllocator(t *testing.T) {
	var big Slab[[chunkBytes/64 + 1]byte]
	big.New(1000)
	var none Slab[struct{}]
	none.New(1000)
	if big.Left() != 0 || none.Left() != 0 {
		t.Fatalf("chunks taken: %d for big values, %d for empty ones", big.Left(), none.Left())
	}
}

// A full chunk is readied by hugepage.Fault where the kernel has huge
// pages.
func TestSlabChunkIsFaultedIn(t *testing.T) {
	var s Slab[behavior]
	p := s.New(1 << 30)
	mode, _, modeErr := hugepage.Mode()
	checkFaulted(t, unsafe.Pointer(p), uintptr(s.Left()+1)*unsafe.Sizeof(behavior{}), mode, modeErr)
}

// checkFaulted fails unless the chunk of n bytes at p had its first
// aligned huge page faulted in (hugepage.Fault) where the kernel has huge
// pages (mode madvise or always). Elsewhere Fault does nothing, and memory
// reused from the heap may be in memory anyway, so nothing is checked.
func checkFaulted(t *testing.T, p unsafe.Pointer, n uintptr, mode string, modeErr error) {
	t.Helper()
	hp := hugepage.Size()
	a := uintptr(p)
	beg := (a+hp-1)&^(hp-1) - a
	if beg+hp > n {
		t.Fatalf("a chunk of %d bytes holds no aligned huge page", n)
	}
	if modeErr != nil || (mode != "madvise" && mode != "always") {
		return
	}
	if !hugepage.Resident(unsafe.Slice((*byte)(unsafe.Add(p, beg)), hp)) {
		t.Fatalf("chunk at %#x: its first aligned huge page is not in memory: hugepage.Fault did not ready it (transparent huge pages %q)", a, mode)
	}
}
