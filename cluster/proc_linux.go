//go:build linux

package cluster

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// pidAlive reports whether process pid runs: it exists and is not a
// zombie (a worker whose coordinator died is reaped by whoever inherited
// it, which may be never).
func pidAlive(pid int) bool {
	st := pidState(pid)
	return st != 0 && st != 'Z' && st != 'X' && st != 'x'
}

// pidState is the state letter of process pid in /proc/PID/stat (R, S,
// T for stopped...), 0 when it cannot be read.
func pidState(pid int) byte {
	f := procStat(pid)
	if len(f) == 0 || len(f[0]) != 1 {
		return 0
	}
	return f[0][0]
}

// procStart is when process pid started, in clock ticks since boot (the
// 22nd field of /proc/PID/stat), 0 when it cannot be read. With the pid it
// names one process: a pid reused belongs to a process started later (in
// the same 10 ms tick only if the pid came round within it).
func procStart(pid int) uint64 {
	f := procStat(pid)
	if len(f) < 20 {
		return 0
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// procStat is the fields of /proc/PID/stat after the command's name, from
// the state on (the name is in parentheses and may hold spaces and ')').
func procStat(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// wroteRecord reports whether the process r names is the worker that
// wrote r: the same pid, started at the same time. A record damaged to
// name another process, or whose pid was reused, must not get that
// process killed.
func wroteRecord(r workerRecord) bool {
	return r.Start != 0 && procStart(r.Pid) == r.Start
}

// procState says what state process pid is in, for an error message.
func procState(pid int) string {
	switch pidState(pid) {
	case 'T', 't':
		return fmt.Sprintf("pid %d is stopped (SIGSTOP or a debugger)", pid)
	case 'D':
		return fmt.Sprintf("pid %d waits in the kernel (uninterruptible: a disk or NFS that does not answer)", pid)
	}
	return fmt.Sprintf("pid %d runs", pid)
}
