package cli

import "fmt"

// Threads of the processes `cluster up` starts, counted on linux/amd64
// (Go 1.26) in /proc/PID/status of a running cluster: 11 for cluster up,
// 7 or 8 for each worker. Under RLIMIT_NPROC, which counts threads, a
// cluster past it crashed (SIGABRT, "runtime/cgo: pthread_create failed:
// Resource temporarily unavailable", and pages of registers).
const (
	threadsOfUp     = 11
	threadsOfWorker = 8
)

// checkTaskLimit refuses -n workers when this user's limit of tasks
// (ulimit -u, which counts threads) cannot hold them besides the used
// ones; limit 0 means none.
func checkTaskLimit(workers int, limit, used uint64) error {
	if limit == 0 {
		return nil
	}
	need := uint64(threadsOfUp + workers*threadsOfWorker)
	if used+need <= limit {
		return nil
	}
	hint := "free some (this user runs other processes), or raise the limit (ulimit -u)"
	if used+threadsOfUp+threadsOfWorker <= limit {
		fit := (limit - used - threadsOfUp) / threadsOfWorker
		hint = fmt.Sprintf("pass -n %d or fewer, or raise the limit (ulimit -u)", fit)
	}
	return fmt.Errorf("-n %d workers need about %d threads (%d for cluster up, %d per worker), and this user may run %d (ulimit -u, RLIMIT_NPROC), %d of them already: %s",
		workers, need, threadsOfUp, threadsOfWorker, limit, used, hint)
}
