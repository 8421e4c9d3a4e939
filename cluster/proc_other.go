//go:build unix && !linux

package cluster

import (
	"os/exec"
	"syscall"
)

// setDeathSignal puts the worker in its own process group, so a Ctrl-C at
// the terminal reaches only the coordinator. Without a parent-death signal
// here, workers exit when their link to the coordinator drops.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
