//go:build !unix

package store

import (
	"errors"
	"os"
	"time"
)

// lockExclusive is a no-op where bbolt's lock is not an flock.
func lockExclusive(*os.File) error { return nil }

// errLockTimeout is lockWait's error when the lock stayed taken.
var errLockTimeout = errors.New("store: lock not released in time")

// lockWait is a no-op where bbolt's lock is not an flock.
func lockWait(*os.File, bool, time.Duration) error { return nil }
