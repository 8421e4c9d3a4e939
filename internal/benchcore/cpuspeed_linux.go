package benchcore

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// onEachCPU pins the calling thread to each CPU of the process's affinity
// mask in turn and calls f there; the mask is restored afterwards.
func onEachCPU(f func(cpu int)) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return fmt.Errorf("benchcore: reading this thread's CPU affinity: %w", err)
	}
	defer unix.SchedSetaffinity(0, &all) //nolint:errcheck // the thread's own mask, just read
	for cpu, left := 0, all.Count(); left > 0; cpu++ {
		if !all.IsSet(cpu) {
			continue
		}
		left--
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return fmt.Errorf("benchcore: pinning the thread to CPU %d: %w", cpu, err)
		}
		f(cpu)
	}
	return nil
}
