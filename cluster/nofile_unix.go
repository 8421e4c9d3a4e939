//go:build unix

package cluster

import "syscall"

// nofileLimit is RLIMIT_NOFILE's soft limit (a variable for tests).
var nofileLimit = func() (uint64, bool) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, false
	}
	return l.Cur, true
}
