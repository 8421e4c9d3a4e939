package cluster

import (
	"os"
	"strconv"
)

// ProcessStopped reports whether every thread of process pid is stopped:
// kill(SIGSTOP) returns before they are, and a thread running on another
// core (a ring reader spinning) can still answer a request meanwhile.
func ProcessStopped(pid int) bool {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			return false
		}
		if st := pidState(tid); st != 'T' && st != 't' {
			return false
		}
	}
	return true
}
