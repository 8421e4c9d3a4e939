package hugepage

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's setting and the size of its huge pages.
const (
	EnabledFile = "/sys/kernel/mm/transparent_hugepage/enabled"
	sizeFile    = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
)

// Size is the kernel's huge page size: 2 MiB on amd64, more on some arm64
// kernels (512 MiB with 64 KiB pages), 2 MiB where it cannot be read.
var Size = sync.OnceValue(func() uintptr {
	if b, err := os.ReadFile(sizeFile); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n&(n-1) == 0 {
			return uintptr(n)
		}
	}
	return 2 << 20
})

// Mode reads the kernel's setting: "always", "madvise" or "never", and
// EnabledFile's content (or the error reading it) for a message.
func Mode() (mode, raw string, err error) {
	b, err := os.ReadFile(EnabledFile)
	if err != nil {
		return "", "", err
	}
	raw = strings.TrimSpace(string(b))
	return parseMode(raw), raw, nil
}

// parseMode is the setting EnabledFile selects, in brackets
// ("always [madvise] never"), or "" for anything else.
func parseMode(raw string) string {
	for _, m := range []string{"always", "madvise", "never"} {
		if strings.Contains(raw, "["+m+"]") {
			return m
		}
	}
	return ""
}

// kernelMode is Mode's setting, read once ("" where it cannot be read).
var kernelMode = sync.OnceValue(func() string {
	m, _, _ := Mode()
	return m
})

// choice is the process's chooser: the page size is the machine's matter,
// not one scheduler's.
var choice struct {
	sync.Mutex
	chooser
}

// Insist makes Fault take huge pages from now on, whatever they cost:
// the program asked for them (scheduler.ReserveHeap).
func Insist() {
	choice.Lock()
	choice.insist = true
	choice.Unlock()
}

// Fault readies the n fresh bytes at p, a chunk about to be filled from
// its start and not yet touched, in whichever page size has been the
// cheaper to fault in here (see chooser): it asks for huge pages on parts
// of the chunk aligned to Size, or for none, and faults in its first
// two aligned huge pages' worth now, timing each for the chooser (filling
// the chunk would fault them in moments later anyway). It returns whether
// the rest of the chunk goes on huge pages. Where the kernel has no huge
// pages, or the chunk holds no aligned huge page, it does nothing.
func Fault(p unsafe.Pointer, n uintptr) (restHuge bool) {
	m := kernelMode()
	hp := Size()
	beg, end, ok := aligned(uintptr(p), n, hp)
	if (m != "madvise" && m != "always") || !ok {
		return false
	}
	choice.Lock()
	sampleHuge, restHuge := choice.plan()
	choice.Unlock()
	b := unsafe.Slice((*byte)(unsafe.Add(p, beg)), end-beg)
	setSize(b[:hp], sampleHuge)
	if len(b) > int(hp) {
		setSize(b[hp:], restHuge)
	}
	sample(b[:hp], sampleHuge)
	if len(b) >= int(2*hp) {
		sample(b[hp:2*hp], restHuge)
	}
	return restHuge
}

// setSize advises b for huge pages or against them. Both ways, whatever
// the kernel's setting: heap reused from an earlier chunk keeps that
// chunk's advice, and a sample must be of the size it says.
func setSize(b []byte, isHuge bool) {
	if isHuge {
		_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
	} else {
		_ = syscall.Madvise(b, syscall.MADV_NOHUGEPAGE)
	}
}

// sample faults in b, one huge page's worth, and tells the chooser what
// it took, unless some of it was in memory already (a chunk of reused
// heap has nothing to tell).
func sample(b []byte, isHuge bool) {
	if Resident(b) {
		return
	}
	start := time.Now()
	populate(b)
	took := time.Since(start)
	choice.Lock()
	choice.record(isHuge, took, uintptr(len(b)))
	choice.Unlock()
}

// Resident reports whether any page of b is in memory (true where it
// cannot be told).
func Resident(b []byte) bool {
	vec, err := mincore(b)
	if err != nil {
		return true // unknown: do not learn from it
	}
	for _, v := range vec {
		if v&1 != 0 {
			return true
		}
	}
	return false
}

// mincore returns a byte for each 4 KiB page of b, its lowest bit set
// where the page is in memory.
func mincore(b []byte) ([]byte, error) {
	vec := make([]byte, (len(b)+4095)/4096)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))),
		uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return nil, errno
	}
	return vec, nil
}

// populate faults in b's pages for writing: one call where the kernel has
// MADV_POPULATE_WRITE (5.14), else a write to each page (b is fresh, so
// zero: writing zero changes nothing).
func populate(b []byte) {
	if unix.Madvise(b, unix.MADV_POPULATE_WRITE) != nil {
		touch(b)
	}
}

// touch writes zero to each 4 KiB page of b, which is zero.
func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
}

// Force asks for huge pages on the part of the n bytes at p aligned to
// Size, which must be mapped and is best not yet touched (a touched page
// stays small until the kernel's khugepaged collapses it), whatever the
// kernel's setting. It returns the address and length of that part, zero
// where there is none.
func Force(p unsafe.Pointer, n uintptr) (at uintptr, length int, err error) {
	return advise(p, n)
}

func advise(p unsafe.Pointer, n uintptr) (uintptr, int, error) {
	beg, end, ok := aligned(uintptr(p), n, Size())
	if !ok {
		return 0, 0, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, beg)), end-beg)
	return uintptr(p) + beg, len(b), syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}

// aligned is the part of the n bytes at a that whole pages of size hp (a
// power of two) cover, as offsets from a; ok is false where there is none,
// the bytes ending before the first page boundary after a among them.
func aligned(a, n, hp uintptr) (beg, end uintptr, ok bool) {
	beg = (a+hp-1)&^(hp-1) - a
	end = (a+n)&^(hp-1) - a // wraps past n when a+n comes before that boundary
	return beg, end, end > beg && end <= n
}

// Advised reports whether every mapping over the n bytes at at carries the
// advice (VmFlags hg in /proc/self/smaps), and false where none is mapped.
func Advised(at uintptr, n int) (bool, error) { return vmFlag(at, n, "hg") }

// vmFlag reports whether every mapping over the n bytes at at carries the
// VmFlags flag in /proc/self/smaps, and false where none is mapped.
func vmFlag(at uintptr, n int, flag string) (bool, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return false, err
	}
	defer f.Close()
	end := at + uintptr(n)
	found, inside := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if inside && !slices.Contains(strings.Fields(flags), flag) {
				return false, nil
			}
			inside = false
			continue
		}
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		lo, hi, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		a, errA := strconv.ParseUint(lo, 16, 64)
		b, errB := strconv.ParseUint(hi, 16, 64)
		if errA != nil || errB != nil {
			continue
		}
		if inside = uintptr(a) < end && uintptr(b) > at; inside {
			found = true
		}
	}
	return found, sc.Err()
}
