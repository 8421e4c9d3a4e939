//go:build unix

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockExclusive takes the lock bbolt takes (flock), without waiting; it is
// released when f is closed.
func lockExclusive(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
