package cluster

import (
	"fmt"
	"os"
)

// Descriptors a coordinator holds: about 17 of its own (the embedded NATS
// server's files and listeners, its sockets, the secret) and 10 per
// worker (the link's socket, its shared mapping's eventfds, the worker's
// NATS connection, its stdout and stderr pipes), measured with 1, 4 and 8
// workers; a few more for commands and checkpoints in flight.
const (
	coordFds     = 24
	fdsPerWorker = 10
)

// checkDescriptors refuses, up front, a cluster of workers workers that
// RLIMIT_NOFILE would starve half way: out of descriptors, links fail in
// ways that look like a peer's fault (a worker "exited while starting").
func checkDescriptors(workers int) error {
	limit, ok := nofileLimit()
	need := uint64(coordFds + fdsPerWorker*workers)
	if !ok || limit >= need {
		return nil
	}
	return fmt.Errorf("cluster: %d workers need about %d file descriptors in the coordinator, but it (pid %d) may open %d (ulimit -n): raise the limit where `cluster up` runs (ulimit -n %d, or more) or run at most %d workers",
		workers, need, os.Getpid(), limit, need, max(0, (int(limit)-coordFds)/fdsPerWorker))
}
