package memlimit

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// AddressSpace is the Name of the limit of address space.
const AddressSpace = "ulimit -v (RLIMIT_AS)"

// Limit is one limit on this process's memory.
type Limit struct {
	Name  string // how the user sets it: "ulimit -v (RLIMIT_AS)", "cgroup memory.max (/sys/fs/cgroup/x/memory.max)"
	Bytes uint64 // the limit
	Used  uint64 // what this process counts against it now (address space, or resident memory)
}

// Left is what the process may still take under l.
func (l Limit) Left() uint64 {
	if l.Used >= l.Bytes {
		return 0
	}
	return l.Bytes - l.Used
}

func (l Limit) String() string {
	return fmt.Sprintf("%s of %s, %s of it in use", l.Name, Bytes(l.Bytes), Bytes(l.Used))
}

// Tightest is the limit under which the process may take the least more,
// and false when no limit is set (or none can be read: then nothing is
// refused up front).
func Tightest() (Limit, bool) {
	var best Limit
	found := false
	for _, l := range limits() {
		if !found || l.Left() < best.Left() {
			best, found = l, true
		}
	}
	return best, found
}

// Bytes formats n for a message: "3.2 GB", "512 MB", "900 kB".
func Bytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0f kB", float64(n)/1e3)
}

// GuideGC tells the Go garbage collector about the tightest limit, unless
// GOMEMLIMIT already does: the collector knows no ulimit -v or cgroup
// limit, and at its default pace lets the heap grow to twice what is live
// before collecting, so a run that fits died out of memory at its peak.
// Go's limit counts only the memory Go manages, so it is set to what Go
// holds now plus 3/4 of what is left: the rest is for what Go does not
// count (mapped files, the C stacks of threads). It returns the limit set,
// 0 when none.
func GuideGC() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	lim, ok := Tightest()
	if !ok {
		return 0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goal := int64(ms.Sys + lim.Left()/4*3)
	debug.SetMemoryLimit(goal)
	return goal
}
