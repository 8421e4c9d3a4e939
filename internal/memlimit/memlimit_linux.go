package memlimit

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// unlimited is what cgroup v1 reports for no limit (a page-rounded
// MaxInt64); anything this large is no limit.
const unlimited = 1 << 62

func limits() []Limit {
	var ls []Limit
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err == nil && r.Cur < unlimited {
		ls = append(ls, Limit{Name: AddressSpace, Bytes: r.Cur, Used: status("VmSize:")})
	}
	if path, n, ok := cgroupLimit(); ok {
		ls = append(ls, Limit{Name: "cgroup memory limit " + path, Bytes: n, Used: status("VmRSS:")})
	}
	return ls
}

// status is a "kB" field of /proc/self/status in bytes, 0 if unknown.
func status(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit is the memory limit of this process's cgroup and the file
// that sets it: memory.max (v2) or memory.limit_in_bytes (v1).
func cgroupLimit() (string, uint64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		case parts[1] == "memory" || strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		v, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64) // "max" fails: no limit
		if err == nil && n < unlimited {
			return file, n, true
		}
	}
	return "", 0, false
}
