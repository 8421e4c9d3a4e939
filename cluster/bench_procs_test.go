package cluster_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procTimes is what the kernel's scheduler counted for every thread of a
// process (/proc/PID/task/*/schedstat): time on a CPU, and time spent
// runnable but waiting for one (another process had it).
type procTimes struct {
	CPU, Waited time.Duration
}

func (a procTimes) sub(b procTimes) procTimes {
	return procTimes{CPU: a.CPU - b.CPU, Waited: a.Waited - b.Waited}
}

// readProcTimes sums procTimes over the threads of pid. Where /proc has no
// schedstat (not Linux, or a kernel without it) it returns zeros, and the
// benchmark's busy figures read 0.
func readProcTimes(pid int) procTimes {
	var t procTimes
	dirs, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "schedstat"))
		if err != nil {
			continue // a thread that ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		run, err1 := strconv.ParseInt(f[0], 10, 64)
		wait, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		t.CPU += time.Duration(run)
		t.Waited += time.Duration(wait)
	}
	return t
}
