//go:build !unix

package cluster

import "os/exec"

// setDeathSignal does nothing here: workers exit when their link to the
// coordinator drops.
func setDeathSignal(*exec.Cmd) {}
