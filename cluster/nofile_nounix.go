//go:build !unix

package cluster

// nofileLimit: no RLIMIT_NOFILE to check.
var nofileLimit = func() (uint64, bool) { return 0, false }
