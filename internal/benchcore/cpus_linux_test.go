package benchcore_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// expectedCPUs is how many CPUs this process may run on.
func expectedCPUs(t *testing.T) int {
	var all unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &all))
	return all.Count()
}
