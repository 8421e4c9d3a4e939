// Package memlimit tells how much more memory this process may take
// before a limit stops it: the address space limit (ulimit -v,
// RLIMIT_AS) and the memory limit of its cgroup (memory.max, or
// memory.limit_in_bytes of cgroup v1). A command that knows what a run
// needs refuses it up front, naming the limit, instead of dying inside
// the Go runtime ("fatal error: out of memory") halfway.
package memlimit
