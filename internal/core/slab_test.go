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

// A full chunk asks for huge pages where the kernel takes the advice.
func TestSlabChunkIsAdvised(t *testing.T) {
	var s Slab[behavior]
	p := uintptr(unsafe.Pointer(s.New(1 << 30)))
	n := uintptr(s.Left()+1) * unsafe.Sizeof(behavior{})
	hp := hugepage.Size()
	beg, end := (p+hp-1)&^(hp-1), (p+n)&^(hp-1)
	if end <= beg {
		t.Fatalf("a chunk of %d bytes holds no aligned huge page", n)
	}
	advised, err := hugepage.Advised(beg, int(end-beg))
	if err != nil {
		t.Fatal(err)
	}
	mode, _, modeErr := hugepage.Mode()
	if want := modeErr == nil && mode == "madvise"; advised != want {
		t.Fatalf("chunk at %#x: advised %v, want %v (transparent huge pages %q)", p, advised, want, mode)
	}
}
