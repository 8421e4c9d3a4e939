//go:build !linux

package benchcore_test

import "testing"

// expectedCPUs: CPUSpeed times one CPU where it cannot pin a thread.
func expectedCPUs(*testing.T) int { return 1 }
