//go:build unix && !linux

package cluster

import (
	"os"

	"errors"
	"golang.org/x/sys/unix"
	"os/exec"
	"os/signal"
	"syscall"
)

// detach starts the worker in a session of its own: a Ctrl-C at the
// terminal reaches only the coordinator, and a coordinator that dies takes
// no worker with it (a new `cluster up` adopts them, see adopt.go).
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
}

// pidAlive reports whether process pid exists (a zombie counts as alive
// here; its socket is gone, so adopting it fails and the checkpoint is
// restored instead).
func pidAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// ignoreBrokenPipe keeps a worker alive when the coordinator that reads
// its output dies.
func ignoreBrokenPipe() { signal.Ignore(syscall.SIGPIPE) }

// killPid sends SIGKILL to pid; a process already gone is fine.
func killPid(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// redirectOutput points this process's stdout and stderr at f.
func redirectOutput(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(f.Fd()), fd); err != nil {
			return err
		}
	}
	return nil
}
