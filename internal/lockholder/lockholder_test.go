package lockholder

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLocks(t *testing.T) {
	table := []byte(`1: FLOCK  ADVISORY  WRITE 5473 fe:00:9977872 0 EOF
1: -> FLOCK  ADVISORY  WRITE 6000 fe:00:9977872 0 EOF
2: POSIX  ADVISORY  WRITE 77 fe:00:12 0 EOF
3: FLOCK  ADVISORY  READ 88 fe:00:9977872 0 EOF
4: FLOCK  ADVISORY  READ 88 fe:00:9977872 0 EOF
junk
`)
	assert.Equal(t, []int{5473, 88}, parseLocks(table, "fe:00:9977872"), "holders once each, no waiter")
	assert.Equal(t, []int{77}, parseLocks(table, "fe:00:12"))
	assert.Empty(t, parseLocks(table, "fe:01:12"), "another device")
}

func TestDescribeNamesThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Empty(t, Describe(path), "nobody holds it yet")
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	if runtime.GOOS != "linux" {
		assert.Empty(t, Describe(path))
		return
	}
	assert.Equal(t, "this process (PID "+strconv.Itoa(os.Getpid())+")", Describe(path))
	assert.Empty(t, Describe(filepath.Join(t.TempDir(), "missing")))
}
