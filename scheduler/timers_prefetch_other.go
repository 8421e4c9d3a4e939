//go:build !amd64

package scheduler

// prefetchLines does nothing where no prefetch instruction is wired up:
// the timers then take the cache misses when the tasklets run.
func prefetchLines(p *uintptr, n int) {}

func prefetchSpan(p uintptr, lines int) {}
