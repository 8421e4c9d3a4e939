package cluster

import "fmt"

// Threads of the processes `cluster up` starts, counted on linux/amd64
// (Go 1.26) in /proc/PID/status of a running cluster: 11 for the
// coordinator, 7 or 8 for each worker. Under RLIMIT_NPROC, which counts
// threads, a cluster past it crashed (SIGABRT, "runtime/cgo:
// pthread_create failed: Resource temporarily unavailable", and pages of
// registers).
const (
	coordThreads     = 11
	threadsPerWorker = 8
)

// checkTasks refuses, up front, workers workers when this user's limit of
// tasks (ulimit -u, which counts threads) cannot hold them and the
// coordinator besides the used ones.
func checkTasks(workers int, limit, used uint64) error {
	need := uint64(coordThreads + workers*threadsPerWorker)
	if used+need <= limit {
		return nil
	}
	hint := "end some (this user runs other processes), or raise the limit (ulimit -u)"
	if used+coordThreads+threadsPerWorker <= limit {
		fit := (limit - used - coordThreads) / threadsPerWorker
		hint = fmt.Sprintf("run at most %d workers (-n %d), or raise the limit (ulimit -u)", fit, fit)
	}
	return fmt.Errorf("cluster: %d workers need about %d threads (%d for the coordinator, %d per worker), and this user may run %d (ulimit -u, RLIMIT_NPROC), %d of them already: %s",
		workers, need, coordThreads, threadsPerWorker, limit, used, hint)
}
