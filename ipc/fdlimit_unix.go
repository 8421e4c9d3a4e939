//go:build unix

package ipc

import "syscall"

// openFileLimit is this process's limit of open descriptors
// (RLIMIT_NOFILE), or 0 if unknown.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
