//go:build !unix

package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lockFile takes the lock on path by creating it exclusively: without
// flock, a lock left by a process that was killed must be removed by hand
// (the error says so).
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w (%s exists; if no process of this cluster runs, delete it)", ErrNATSLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: lock %s: %w", path, err)
	}
	_ = f.Close()
	return func() { _ = os.Remove(path) }, nil
}

// lockHeld reports whether the lock file at path exists.
func lockHeld(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
