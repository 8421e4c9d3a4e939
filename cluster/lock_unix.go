//go:build unix

package cluster

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/internal/lockholder"
)

// lockFile takes an exclusive lock on path (created 0600), without
// waiting: ErrNATSLocked when another process holds it. The lock goes with
// the process, so a coordinator killed with -9 leaves none behind.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: lock %s: %w", path, atomicfile.Unnamed(err, "", path))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := lockholder.Describe(path)
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%w (%s is locked by %s)", ErrNATSLocked, path, who)
		}
		return nil, fmt.Errorf("cluster: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// lockHeld reports whether a process holds the lock on path, without
// taking it for longer than the look (a shared lock, let go at once).
func lockHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // no lock file: nobody can hold it
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
