//go:build !linux

package lockholder

// holders names nobody where there is no /proc/locks.
func holders(string) []int { return nil }
