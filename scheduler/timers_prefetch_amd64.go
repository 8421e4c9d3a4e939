package scheduler

// prefetchLines asks the processor to bring the cache lines at the n
// addresses from p on into its caches, without waiting for them: a
// prefetch never faults, so stale addresses are harmless.
//
//go:noescape
func prefetchLines(p *uintptr, n int)

// prefetchSpan is prefetchLines for the lines of memory from p on, 64
// bytes apart.
//
//go:noescape
func prefetchSpan(p uintptr, lines int)
