//go:build !unix

package store

import (
	"os"
	"time"
)

// lockExclusive is a no-op where bbolt's lock is not an flock.
func lockExclusive(*os.File) error { return nil }

// lockWait is a no-op where bbolt's lock is not an flock.
func lockWait(*os.File, bool, time.Duration) error { return nil }
