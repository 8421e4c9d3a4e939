//go:build !linux

package hugepage

import (
	"errors"
	"runtime"
	"unsafe"
)

// EnabledFile is where Linux keeps its setting; there is none here.
const EnabledFile = ""

// Size is 2 MiB: there are no transparent huge pages off Linux.
func Size() uintptr { return 2 << 20 }

// Mode says there are no transparent huge pages off Linux.
func Mode() (mode, raw string, err error) {
	return "", "", errors.New("no transparent huge pages on " + runtime.GOOS)
}

// Insist does nothing off Linux.
func Insist() {}

// Fault does nothing off Linux.
func Fault(unsafe.Pointer, uintptr) bool { return false }

// Resident is true off Linux: it cannot be told.
func Resident([]byte) bool { return true }

// Force does nothing off Linux.
func Force(unsafe.Pointer, uintptr) (uintptr, int, error) { return 0, 0, nil }

// Advised is false off Linux: nothing is advised.
func Advised(uintptr, int) (bool, error) { return false, nil }
