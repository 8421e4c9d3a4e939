//go:build !unix

package ipc

// openFileLimit is unknown on this system: the default cap of pending
// connections is not lowered to fit it.
func openFileLimit() uint64 { return 0 }
