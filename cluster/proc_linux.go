//go:build linux

package cluster

import (
	"bytes"
	"os"
	"strconv"
)

// pidAlive reports whether process pid runs: it exists and is not a
// zombie (a worker whose coordinator died is reaped by whoever inherited
// it, which may be never).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X' && st != 'x'
}
