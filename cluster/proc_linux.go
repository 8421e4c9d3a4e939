//go:build linux

package cluster

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
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
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
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
