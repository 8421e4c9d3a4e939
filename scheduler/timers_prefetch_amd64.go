package scheduler

// prefetchLines asks the processor to bring the cache lines at the n
// addresses from p on into its caches, without waiting for them: a
// prefetch never faults, so stale addresses are harmless.
//
//go:noescape
func prefetchLines(p *uintptr, n int)

// prefetch3 is prefetchLines for three addresses, without the array.
//
//go:noescape
func prefetch3(a, b, c uintptr)
