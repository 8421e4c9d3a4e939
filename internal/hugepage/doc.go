// Package hugepage asks Linux to back memory with transparent huge pages.
//
// On the 2-vCPU VM of the README a first touch of a fresh 4 KiB page costs
// several microseconds, and a world of a million tasklets touches tens of
// thousands of them; with the kernel's transparent huge pages at madvise
// (a common default), memory advised with MADV_HUGEPAGE before it is
// touched faults in 2 MiB at a time instead. The Go runtime stopped
// advising its heap after Go 1.21.0, so the scheduler advises what it
// knows will be dense: its own big record chunks (package core) and, on
// request, a reserve of the whole heap (scheduler.ReserveHeap).
//
// Off Linux, and where the kernel has no huge pages, nothing is advised.
package hugepage
