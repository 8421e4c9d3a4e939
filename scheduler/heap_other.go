//go:build !linux

package scheduler

import (
	"fmt"
	"runtime"
)

func reserveHeap(int) (int, error) {
	return 0, fmt.Errorf("scheduler: reserve heap: %w on %s (only Linux has transparent huge pages)", ErrNoHugePages, runtime.GOOS)
}
