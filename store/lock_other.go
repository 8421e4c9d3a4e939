//go:build !unix

package store

import "os"

// lockExclusive is a no-op where bbolt's lock is not an flock.
func lockExclusive(*os.File) error { return nil }
