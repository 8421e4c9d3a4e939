package hugepage

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
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

// advising is whether the kernel heeds MADV_HUGEPAGE and needs it: at
// always it backs every mapping with huge pages anyway. Read once.
var advising = sync.OnceValue(func() bool {
	m, _, err := Mode()
	return err == nil && m == "madvise"
})

// Advise asks for huge pages on the part of the n bytes at p aligned to
// Size, which must be mapped and is best not yet touched (a touched page
// stays small until the kernel's khugepaged collapses it). It returns the
// address and length of that part, zero where there is none. It does
// nothing where the kernel would not heed the advice.
func Advise(p unsafe.Pointer, n uintptr) (at uintptr, length int, err error) {
	if !advising() {
		return 0, 0, nil
	}
	return advise(p, n)
}

// Force is Advise without asking the kernel's setting first.
func Force(p unsafe.Pointer, n uintptr) (at uintptr, length int, err error) {
	return advise(p, n)
}

func advise(p unsafe.Pointer, n uintptr) (uintptr, int, error) {
	hp := Size()
	a := uintptr(p)
	beg := (a+hp-1)&^(hp-1) - a
	end := (a+n)&^(hp-1) - a
	if end <= beg || end > n {
		return 0, 0, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, beg)), end-beg)
	return a + beg, len(b), syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}

// Advised reports whether every mapping over the n bytes at at carries the
// advice (VmFlags hg in /proc/self/smaps), and false where none is mapped.
func Advised(at uintptr, n int) (bool, error) {
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
			if inside && !slices.Contains(strings.Fields(flags), "hg") {
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
