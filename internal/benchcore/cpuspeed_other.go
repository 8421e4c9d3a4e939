//go:build !linux

package benchcore

// onEachCPU cannot pin a thread here: it calls f once, as CPU 0, wherever
// the thread runs.
func onEachCPU(f func(cpu int)) error {
	f(0)
	return nil
}
