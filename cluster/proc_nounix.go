//go:build !unix

package cluster

import (
	"os"
	"os/exec"
	"strconv"
)

// detach does nothing here.
func detach(*exec.Cmd) {}

// pidAlive reports whether process pid exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.FindProcess(pid)
	return err == nil
}

// ignoreBrokenPipe does nothing here.
func ignoreBrokenPipe() {}

// killPid ends process pid.
func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	return p.Kill()
}

// redirectOutput does nothing here.
func redirectOutput(*os.File) error { return nil }

// procState says what state process pid is in, for an error message.
func procState(pid int) string { return "pid " + strconv.Itoa(pid) + " runs" }

// procStart is 0 here: /proc is Linux's.
func procStart(int) uint64 { return 0 }

// wroteRecord cannot check the start time of a process here, so a live pid
// is taken at its record's word.
func wroteRecord(workerRecord) bool { return true }
