package atomicfile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitEnv makes the test binary a child that writes past a file size
// limit, as on a full disk (Go ignores SIGXFSZ: the write fails with
// EFBIG), once with os.WriteFile and once with WriteFile.
const limitEnv = "STACKLESS_TEST_ATOMIC_LIMIT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(limitEnv); dir != "" {
		lim := uint64(16)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			fmt.Println("setup:", err)
			os.Exit(1)
		}
		big := []byte(strings.Repeat("new content ", 10))
		fmt.Println("os:", os.WriteFile(filepath.Join(dir, "plain"), big, 0o644))
		fmt.Println("atomic:", WriteFile(filepath.Join(dir, "atomic"), big, 0o644))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// On a full disk the old file stays whole; os.WriteFile cuts it.
func TestAFailedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"plain", "atomic"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("old\n"), 0o644))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), limitEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "os: write "+filepath.Join(dir, "plain")+": file too large")
	atomicPath := filepath.Join(dir, "atomic")
	assert.Contains(t, string(out), "atomic: write "+atomicPath+": write: file too large: the disk (or a quota or file size limit) is full; "+
		atomicPath+" is unchanged and no temporary file is left: free space and try again")
	assert.NotContains(t, string(out), ".tmp-", "the temporary file, removed, is not named")
	plain, err := os.ReadFile(filepath.Join(dir, "plain"))
	require.NoError(t, err)
	assert.Len(t, plain, 16, "os.WriteFile left the file cut at the limit")
	atomic, err := os.ReadFile(filepath.Join(dir, "atomic"))
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(atomic))
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 2, "no temporary file is left")
}
