package scheduler

import (
	"errors"
	"fmt"
)

// ErrNoHugePages is returned by ReserveHeap where the kernel will not back
// the heap with huge pages: not Linux, no transparent huge pages, or
// transparent huge pages set to never.
var ErrNoHugePages = errors.New("no transparent huge pages here")

// ReserveHeap readies the Go heap for a big world: it maps bytes of heap
// ahead of need, asks Linux to back them with transparent huge pages
// (madvise MADV_HUGEPAGE), and lets them go, so that the records,
// behaviors and channels made next fault in 2 MiB at a time instead of
// 4 KiB; a big world's chunks go on huge pages from then on too, where
// without it the scheduler puts them on whichever page size has faulted in
// faster in the process. Call it for a world that lives long: huge pages
// spare its passes TLB misses even where they cost more to fault in (a
// game of a million entities on a VM whose host takes back free memory:
// 3 s more to start, ticks of 19-20 ms against 23-29). Building a world of
// millions of tasklets (a level's entities, a restored checkpoint) is
// mostly first touches of fresh memory: on the
// 2-vCPU VM of the README, a fresh 4 KiB page cost about 6 µs, and a cold
// Skynet tree of 1.1 M tasklets took 700-800 ms, 250-500 ms after
// ReserveHeap on one core and mostly 190-230 ms on two (README,
// Benchmarks).
//
// Call it once, before building the world, with about the heap the world
// will take; it runs a garbage collection. The memory is the process's
// heap, so everything allocated after it, not only the scheduler's, lands
// there first. It returns the bytes advised (the part aligned to huge pages), or
// ErrNoHugePages (wrapped) where the kernel will not use huge pages, and
// refuses a block of more than half of what a memory limit (ulimit -v, a
// cgroup's) leaves, since it stays mapped beside what the program maps
// next; with
// transparent huge pages set to always, the advice changes nothing. Huge
// pages round a sparse heap's memory up to 2 MiB, and with the kernel's
// defrag setting at madvise (a common default) a fault may wait for the
// kernel to compact memory when it is fragmented.
func ReserveHeap(bytes int) (advised int, err error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("scheduler: reserve heap: %d bytes: give the heap the world will take, in bytes (more than zero)", bytes)
	}
	return reserveHeap(bytes)
}
