//go:build unix

package cluster

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// detach starts the worker in a session of its own: a Ctrl-C at the
// terminal reaches only the coordinator (which stops the workers itself,
// after a final checkpoint), and a coordinator that dies, even by kill -9,
// takes no worker with it: the workers run on and a new `cluster up` on
// the same folder adopts them (adopt.go).
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
}

// ignoreBrokenPipe keeps a worker alive when the coordinator that reads
// its output dies: writes to the broken pipe fail instead of killing it.
func ignoreBrokenPipe() { signal.Ignore(syscall.SIGPIPE) }

// killPid sends SIGKILL to pid; a process already gone is fine.
func killPid(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// redirectOutput points this process's stdout and stderr at f (a worker
// whose coordinator, which read them, died).
func redirectOutput(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(f.Fd()), fd); err != nil {
			return err
		}
	}
	return nil
}
