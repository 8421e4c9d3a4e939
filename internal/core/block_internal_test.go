package core

import (
	"testing"
	"unsafe"
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
