package core

import (
	"testing"
	"unsafe"

	"github.com/stackless-go/stackless/internal/hugepage"
)

// The record's block comes as one array type ([blockLen]Rec), which the
// allocator types in one step; a record of another size would fall back to
// a slice silently and cost every fresh record 16 instructions more.
func TestBlockIsOneArray(t *testing.T) {
	type rec = Rec[any, any, any]
	if n := blockRecs(unsafe.Sizeof(rec{})); n != blockLen {
		t.Fatalf("a block holds %d records of %d bytes, blockLen is %d: set blockLen to blockBytes / the record's size", n, unsafe.Sizeof(rec{}), blockLen)
	}
}

// A Block takes its first records in blocks of blockLen, then, past
// chunkFrom, in chunks of half of what it made, at most chunkMax, and
// asks for huge pages on a chunk where the kernel takes the advice.
func TestBlockTakesBigWorldsInChunks(t *testing.T) {
	var b Block[any, any, any]
	h := &HostRef[any]{}
	mode, _, modeErr := hugepage.Mode()
	checked := false
	for made := 0; made < 3*chunkMax; made++ {
		refill := len(b.free) == 0
		r := b.Make(uint64(made+1), nil, h)
		if !refill {
			continue
		}
		n := len(b.free) + 1
		want := blockLen
		if made >= chunkFrom {
			want = min(made/2, chunkMax)
		}
		if n != want {
			t.Fatalf("after %d records made, the next took %d at once, want %d", made, n, want)
		}
		if n == chunkMax && !checked {
			checked = true
			hp := hugepage.Size()
			p := uintptr(unsafe.Pointer(r))
			beg, end := (p+hp-1)&^(hp-1), (p+uintptr(n)*unsafe.Sizeof(*r))&^(hp-1)
			if end <= beg {
				t.Fatalf("a chunk of %d records holds no aligned huge page", n)
			}
			advised, err := hugepage.Advised(beg, int(end-beg))
			if err != nil {
				t.Fatal(err)
			}
			if want := modeErr == nil && mode == "madvise"; advised != want {
				t.Fatalf("chunk at %#x: advised %v, want %v (transparent huge pages %q)", p, advised, want, mode)
			}
		}
	}
	if !checked {
		t.Fatal("no chunk of chunkMax records was made")
	}
}
