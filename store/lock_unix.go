//go:build unix

package store

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockExclusive takes the lock bbolt takes (flock), without waiting; it is
// released when f is closed.
func lockExclusive(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// lockWait takes bbolt's lock on f (shared for a reader, as bbolt's
// read-only open takes it), retrying like bbolt every 50ms until timeout
// (0: without limit). It is released when f is closed.
func lockWait(f *os.File, shared bool, timeout time.Duration) error {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	start := time.Now()
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		if timeout != 0 && time.Since(start) > timeout-50*time.Millisecond {
			return errLockTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}
