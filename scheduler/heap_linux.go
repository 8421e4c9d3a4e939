package scheduler

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/stackless-go/stackless/internal/hugepage"
	"github.com/stackless-go/stackless/internal/memlimit"
)

func reserveHeap(bytes int) (int, error) {
	if err := hugePagesOn(); err != nil {
		return 0, err
	}
	if err := roomFor(uint64(bytes)); err != nil {
		return 0, err
	}
	_, n, err := adviseHeap(bytes)
	if err != nil {
		return 0, fmt.Errorf("scheduler: reserve heap: madvise huge pages on %d bytes: %w", n, err)
	}
	runtime.GC()      // the block is garbage now: its pages are the heap's next free ones
	hugepage.Insist() // big worlds' chunks too, whatever they cost to fault in
	return n, nil
}

// adviseHeap allocates a block of fresh pages (never touched: the runtime
// does not clear memory it just mapped) and advises huge pages for its
// part aligned to huge pages, which stays mapped, advised, after the collector
// frees the block. It returns that part's address (for tests: the block
// is garbage once it returns) and size.
//
//go:noinline
func adviseHeap(bytes int) (at uintptr, n int, err error) {
	b := make([]byte, bytes)
	return hugepage.Force(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
}

// roomFor refuses a block the runtime could not map: the runtime's
// failure to allocate it is fatal ("out of memory"), not an error. Under a
// limit it leaves half of what is left: the block stays mapped as the
// heap's free pages, and under ulimit -v what the program maps next (a
// save's file) needs address space beside it, which a game's load under
// a limit found out.
func roomFor(bytes uint64) error {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		if total := uint64(si.Totalram) * uint64(si.Unit); total > 0 && bytes > total {
			return fmt.Errorf("scheduler: reserve heap: %d bytes is more than this machine's memory (%d bytes): give the heap the world will take", bytes, total)
		}
	}
	if lim, ok := memlimit.Tightest(); ok && bytes > lim.Left()/2 {
		return fmt.Errorf("scheduler: reserve heap: %d bytes are more than half of what %s leaves (%s): reserve at most %d bytes, or raise the limit", bytes, lim, memlimit.Bytes(lim.Left()), lim.Left()/2)
	}
	if mode, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err == nil && strings.TrimSpace(string(mode)) == "2" {
		info, err := os.ReadFile("/proc/meminfo")
		if left, ok := commitLeft(string(info)); err == nil && ok && bytes > fits(left) {
			return fmt.Errorf("scheduler: reserve heap: %d bytes do not fit in what strict overcommit (vm.overcommit_memory 2) leaves to commit, %s: reserve at most %d bytes", bytes, memlimit.Bytes(left), fits(left))
		}
	}
	return nil
}

// fits is the biggest block reserved with left bytes to go: the runtime
// maps its own bookkeeping beside a new block.
func fits(left uint64) uint64 { return left - left/8 }

// commitLeft is CommitLimit less Committed_AS in a /proc/meminfo.
func commitLeft(meminfo string) (uint64, bool) {
	var limit, used uint64
	var haveLimit, haveUsed bool
	for _, line := range strings.Split(meminfo, "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "CommitLimit":
			limit, haveLimit = kb<<10, true
		case "Committed_AS":
			used, haveUsed = kb<<10, true
		}
	}
	if !haveLimit || !haveUsed {
		return 0, false
	}
	return limit - min(used, limit), true
}

// hugePagesOn fails with ErrNoHugePages unless the kernel's setting is
// always or madvise.
func hugePagesOn() error {
	mode, raw, err := hugepage.Mode()
	if err != nil {
		return fmt.Errorf("scheduler: reserve heap: %w: %s cannot be read (%v)", ErrNoHugePages, hugepage.EnabledFile, err)
	}
	if mode != "always" && mode != "madvise" {
		return fmt.Errorf("scheduler: reserve heap: %w: %s says %q; set it to madvise to use them", ErrNoHugePages, hugepage.EnabledFile, raw)
	}
	return nil
}
