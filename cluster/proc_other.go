//go:build unix && !linux

package cluster

import (
	"strconv"
	"syscall"
)

// pidAlive reports whether process pid exists (a zombie counts as alive
// here; its socket is gone, so adopting it fails and the checkpoint is
// restored instead).
func pidAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// procState says what state process pid is in, for an error message.
func procState(pid int) string { return "pid " + strconv.Itoa(pid) + " runs" }

// procStart is 0 here: /proc is Linux's.
func procStart(int) uint64 { return 0 }

// wroteRecord cannot check the start time of a process here, so a live pid
// is taken at its record's word.
func wroteRecord(workerRecord) bool { return true }
