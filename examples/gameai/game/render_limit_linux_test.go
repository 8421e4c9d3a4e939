package game

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pngLimitEnv makes the test binary a child that draws a picture over an
// existing one past a file size limit, as on a full disk (Go ignores
// SIGXFSZ: the write fails with EFBIG).
const pngLimitEnv = "STACKLESS_TEST_PNG_LIMIT"

func TestMain(m *testing.M) {
	if path := os.Getenv(pngLimitEnv); path != "" {
		g, err := New(small)
		if err == nil {
			lim := uint64(64)
			err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: lim, Max: lim})
		}
		if err == nil {
			err = g.WritePNG(path, 256)
		}
		fmt.Println(err)
		os.Exit(0)
	}
	if spec := os.Getenv(measureEnv); spec != "" {
		measureMemory(spec) // memory_linux_test.go
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A picture that cannot be written whole leaves the last one as it was:
// written in place, a full disk left an empty world.png.
func TestWritePNGOnAFullDiskKeepsTheLastPicture(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "world.png")
	require.NoError(t, os.WriteFile(path, []byte("the last picture"), 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pngLimitEnv+"="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "gameai: picture "+path+": ")
	assert.Contains(t, string(out), "file too large")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "the last picture", string(b))
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 1, "no temporary file is left")
}
