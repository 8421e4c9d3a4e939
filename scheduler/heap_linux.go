package scheduler

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// thpEnabled is the kernel's transparent huge page setting.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

const hugePage = 2 << 20

func reserveHeap(bytes int) (int, error) {
	if err := hugePagesOn(); err != nil {
		return 0, err
	}
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		if total := uint64(si.Totalram) * uint64(si.Unit); total > 0 && uint64(bytes) > total {
			return 0, fmt.Errorf("scheduler: reserve heap: %d bytes is more than this machine's memory (%d bytes): give the heap the world will take", bytes, total)
		}
	}
	_, n, err := adviseHeap(bytes)
	if err != nil {
		return 0, fmt.Errorf("scheduler: reserve heap: madvise huge pages on %d bytes: %w", n, err)
	}
	runtime.GC() // the block is garbage now: its pages are the heap's next free ones
	return n, nil
}

// adviseHeap allocates a block of fresh pages (never touched: the runtime
// does not clear memory it just mapped) and advises huge pages for its
// 2 MiB-aligned part, which stays mapped, advised, after the collector
// frees the block. It returns that part's address (for tests: the block
// is garbage once it returns) and size.
//
//go:noinline
func adviseHeap(bytes int) (at uintptr, n int, err error) {
	b := make([]byte, bytes)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	beg := int((p+hugePage-1)&^(hugePage-1) - p)
	end := int((p+uintptr(bytes))&^(hugePage-1) - p)
	if end <= beg {
		return 0, 0, nil
	}
	return p + uintptr(beg), end - beg, syscall.Madvise(b[beg:end], syscall.MADV_HUGEPAGE)
}

// hugePagesOn fails with ErrNoHugePages unless the kernel's setting is
// always or madvise.
func hugePagesOn() error {
	b, err := os.ReadFile(thpEnabled)
	if err != nil {
		return fmt.Errorf("scheduler: reserve heap: %w: %s cannot be read (%v)", ErrNoHugePages, thpEnabled, err)
	}
	if s := string(b); !strings.Contains(s, "[always]") && !strings.Contains(s, "[madvise]") {
		return fmt.Errorf("scheduler: reserve heap: %w: %s says %q; set it to madvise to use them", ErrNoHugePages, thpEnabled, strings.TrimSpace(s))
	}
	return nil
}
