package cluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// taskLimit is this user's limit of tasks (RLIMIT_NPROC) and how many its
// other processes run now, counted from /proc; 0, 0 when no limit applies
// (none is set, or root, which the kernel does not hold to it).
func taskLimit() (limit, used uint64) {
	var r unix.Rlimit
	if os.Geteuid() == 0 || unix.Getrlimit(unix.RLIMIT_NPROC, &r) != nil || r.Cur >= 1<<62 {
		return 0, 0
	}
	uid := uint32(os.Getuid())
	self := "/proc/" + strconv.Itoa(os.Getpid()) // counted in the need
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if d == self {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(d, &st) != nil || st.Uid != uid {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				used += n
			}
		}
	}
	return r.Cur, used
}
