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

// workersFit is how many workers fit in this user's task limit beside
// the coordinator and the used tasks; -1 when not even the coordinator
// does.
func workersFit(limit, used uint64) int {
	if used+coordThreads > limit {
		return -1
	}
	return int((limit - used - coordThreads) / threadsPerWorker)
}

// checkTasks refuses, up front, workers workers when this user's limit of
// tasks (ulimit -u, which counts threads) cannot hold them and the
// coordinator besides the used ones.
func checkTasks(workers int, limit, used uint64) error {
	fit := workersFit(limit, used)
	if workers <= fit {
		return nil
	}
	hint := "end some (this user runs other processes), or raise the limit (ulimit -u)"
	if fit >= 1 {
		hint = fmt.Sprintf("run at most %d workers (-n %d), or raise the limit (ulimit -u)", fit, fit)
	}
	return fmt.Errorf("cluster: %d workers need about %d threads (%d for the coordinator, %d per worker), and this user may run %d (ulimit -u, RLIMIT_NPROC), %d of them already: %s",
		workers, coordThreads+workers*threadsPerWorker, coordThreads, threadsPerWorker, limit, used, hint)
}

// checkMoreTasks refuses, up front, a restore that grows the local
// workers from now to then when this user's task limit cannot hold the
// new ones beside those that run (the coordinator, this process, is not
// in used; the workers it stops are, until they exit). remote workers
// (other machines) count in -n too.
func checkMoreTasks(now, then, remote int, limit, used uint64) error {
	fit := workersFit(limit, used)
	if then-now <= fit {
		return nil
	}
	hint := "end some (this user runs other processes), or raise the limit (ulimit -u)"
	if fit >= 0 {
		hint = fmt.Sprintf("restore onto at most %d workers here (-n %d), or raise the limit (ulimit -u)", now+fit, now+fit+remote)
	}
	return fmt.Errorf("cluster: restore onto %d local workers starts %d more than run now, about %d threads more (%d per worker), and this user may run %d (ulimit -u, RLIMIT_NPROC), %d of them already besides the coordinator's %d: %s",
		then, then-now, (then-now)*threadsPerWorker, threadsPerWorker, limit, used, coordThreads, hint)
}
