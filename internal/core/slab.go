package core

import (
	"unsafe"

	"github.com/stackless-go/stackless/internal/hugepage"
)

// chunkBytes bounds a chunk: chunkMax records of 64 bytes, three aligned
// huge pages wherever it lands.
const chunkBytes = chunkMax * 64

// chunk makes n zero values of T in one allocation, on huge pages or small
// ones, whichever has faulted in faster in this process (hugepage.Fault).
// Fresh pages of a large allocation are not cleared, so nothing has
// touched them yet when the page size is chosen.
func chunk[T any](n int) []T {
	c := make([]T, n)
	hugepage.Fault(unsafe.Pointer(unsafe.SliceData(c)), uintptr(n)*unsafe.Sizeof(c[0]))
	return c
}

// Slab hands out zero values of one type, carved from chunks while a
// Block builds a big world, so that a world's behaviors fault in on the
// page size its records get (chunk). A chunk stays in memory while any
// value from it is referenced; values are never handed out twice. The
// zero Slab is ready; it is not safe for concurrent use.
type Slab[T any] struct {
	free []T
}

// New returns a new zero T: the next of the slab's chunk; else, when n >
// 0 (Block.Building), the first of a new chunk of n values, at most
// chunkBytes; else new(T), as the allocator would without a slab. Values
// of no size, or of more than a 64th of a chunk (128 KiB), always come
// from the allocator.
func (s *Slab[T]) New(n int) *T {
	if len(s.free) == 0 {
		size := unsafe.Sizeof(*new(T))
		if n == 0 || size == 0 || size > chunkBytes/64 {
			return new(T)
		}
		s.free = chunk[T](min(n, int(chunkBytes/size)))
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}

// Left is how many values the slab's chunk has yet to hand out.
func (s *Slab[T]) Left() int { return len(s.free) }
