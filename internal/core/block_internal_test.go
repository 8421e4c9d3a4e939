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
// chunkFrom, in chunks of half of what it made, at most chunkMax, each
// readied by hugepage.Fault where the kernel has huge pages.
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
			checkFaulted(t, unsafe.Pointer(r), uintptr(n)*unsafe.Sizeof(*r), mode, modeErr)
		}
	}
	if !checked {
		t.Fatal("no chunk of chunkMax records was made")
	}
}

// A block takes chunks only while at most an eighth of the records it made
// were let go without reuse: a world that shrank with stragglers in its chunks and grew
// again would otherwise take new chunks each time and keep the old ones.
// Release, when the world's last tasklet ended, lets the next world take
// chunks again.
func TestBlockTakesChunksOnlyWhileTheWorldGrows(t *testing.T) {
	var b Block[any, any, any]
	h := &HostRef[any]{}
	b.Make(1, nil, h) // a tasklet that ended before the world was built, its record let go
	b.Ended()
	var recs []*Rec[any, any, any]
	for i := range chunkFrom + 1 {
		recs = append(recs, b.Make(uint64(i+2), nil, h))
	}
	if len(b.free) < blockLen {
		t.Fatalf("past chunkFrom the block took %d records at once, though one tasklet ended before", len(b.free)+1)
	}
	for _, r := range recs[:maxSpare+len(recs)/8+1] { // past the spare ones, an eighth of the world, and one
		if !b.Reuse(r) {
			b.Ended()
		}
	}
	if len(b.spare) != maxSpare {
		t.Fatalf("%d records taken back, want maxSpare (%d)", len(b.spare), maxSpare)
	}
	b.free = nil // the chunk ran out
	for i := range maxSpare + 1 {
		b.Make(uint64(i+1), nil, h)
	}
	if n := len(b.free) + 1; n != blockLen {
		t.Fatalf("after an eighth of the world was let go the block took %d records at once, want a block of %d", n, blockLen)
	}
	b.Release()
	if b.spare != nil || b.free != nil || b.made != 0 || b.ended != 0 {
		t.Fatalf("after Release: %d spare, %d free, %d made, %d ended", len(b.spare), len(b.free), b.made, b.ended)
	}

	var small Block[any, any, any]
	one := small.Make(1, nil, h)
	small.Make(2, nil, h) // its tasklet's record is let go
	small.Ended()
	small.Reuse(one)
	small.Release()
	if len(small.spare) != 1 || small.ended != 0 {
		t.Fatalf("Release of a small world's block: %d spare, %d ended; want its spare record kept", len(small.spare), small.ended)
	}
}
