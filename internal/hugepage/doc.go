// Package hugepage chooses the page size a big world's memory faults in
// with, and asks Linux for it.
//
// A world of a million tasklets touches tens of thousands of fresh 4 KiB
// pages, and with the kernel's transparent huge pages at madvise (a common
// default), memory advised with MADV_HUGEPAGE before it is touched faults
// in 2 MiB at a time instead. Which is cheaper depends on the machine: on
// bare metal huge pages, and on a VM whose host takes back the guest's
// free memory (free page reporting) small pages, since a huge page comes
// from the big free blocks the host took back and its first touch costs
// the host a fault for each of its 512 small pages (5 ms against 0.6 ms on
// the README's VM). So Fault times a sample of each size on the chunks it
// readies (the scheduler's records, the behaviors from scheduler.Make, its
// table pages and run-queue spill) and puts the rest on the cheaper; Force
// advises huge pages whatever they cost, for scheduler.ReserveHeap, after
// which Fault takes huge pages too (Insist).
//
// The Go runtime stopped advising its heap after Go 1.21.0. Off Linux, and
// where the kernel has no huge pages, nothing is advised or faulted in.
package hugepage
