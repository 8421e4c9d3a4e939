package lockholder

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Describe returns who holds a lock on the file at path, such as "PID 1234
// (stackless demo longtask --data data)" or "this process (PID 1234)", or
// "" when it cannot tell.
func Describe(path string) string {
	pids := holders(path)
	if len(pids) == 0 {
		return ""
	}
	var parts []string
	for _, pid := range pids {
		parts = append(parts, describePID(pid))
	}
	return strings.Join(parts, ", ")
}

// describePID names a process by its PID and command line.
func describePID(pid int) string {
	if pid == os.Getpid() {
		return fmt.Sprintf("this process (PID %d)", pid)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Fields(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	if err != nil || len(args) == 0 {
		return fmt.Sprintf("PID %d", pid)
	}
	if i := strings.LastIndexByte(args[0], '/'); i >= 0 {
		args[0] = args[0][i+1:]
	}
	const most = 8 // a long command line says no more
	if len(args) > most {
		args = append(args[:most], "...")
	}
	return fmt.Sprintf("PID %d (%s)", pid, strings.Join(args, " "))
}

// parseLocks returns the PIDs of the lines of a /proc/locks table that
// lock the file whose device and inode read "MAJ:MIN:INODE" (hex device
// numbers), in table order, each once.
func parseLocks(table []byte, id string) []int {
	var pids []int
	seen := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// "1: FLOCK  ADVISORY  WRITE 5473 fe:00:9977872 0 EOF"; a waiter's
		// line has "->" after the number, shifting the fields by one.
		if len(f) > 1 && f[1] == "->" {
			continue // waits for the lock, does not hold it
		}
		if len(f) < 6 || f[5] != id {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 || seen[pid] {
			continue
		}
		seen[pid] = true
		pids = append(pids, pid)
	}
	return pids
}
