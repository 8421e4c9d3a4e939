package cluster

import (
	"os/exec"
	"syscall"
)

// setDeathSignal puts the worker in its own process group, so a Ctrl-C at
// the terminal reaches only the coordinator (which then stops the workers
// itself, after a final checkpoint), and makes the kernel kill the worker
// when the coordinator dies, so a crashed coordinator leaves none behind.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
