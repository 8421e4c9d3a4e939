package cli

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `demo gameai --entities 2000000` under `ulimit -v` died inside the Go
// runtime after a while of setting up ("fatal error: out of memory" and
// pages of goroutines); now it is refused up front, naming the flag, the
// estimate, the limit and what to do.
func TestGameAIRefusedUnderAMemoryLimit(t *testing.T) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	lim := vmSize(t) + 512<<20 // 2,000,000 entities need 4 GB, 100,000 that save 570 MB
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_AS, &old) })

	data := t.TempDir()
	code, out, errOut := run(t, "demo", "gameai", "--entities", "2000000", "--save-every", "0", "--data", data)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "stackless: --entities 2000000 needs about 4.0 GB of memory (2000 bytes per entity playing, measured), more than the ")
	assert.Contains(t, errOut, "left under ulimit -v (RLIMIT_AS) of ")
	assert.Contains(t, errOut, ": pass --entities ")
	assert.Contains(t, errOut, " or fewer, or raise the limit")
	entries, err := os.ReadDir(data)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was started")

	// Saving counts more per entity, and says that --save-every 0 takes less.
	code, _, errOut = run(t, "demo", "gameai", "--entities", "100000", "--data", data)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, errOut, "stackless: --entities 100000 needs about 570 MB of memory (5700 bytes per entity playing and saving, measured)")
	assert.Contains(t, errOut, ", --save-every 0 (2000 bytes per entity), or raise the limit")
}

// `demo gameai --load` of a save too large for the limit was not checked
// (a loaded game's size is in its save) and would die in the runtime the
// same way; the entities are now counted from the save's headers.
func TestGameAILoadRefusedUnderAMemoryLimit(t *testing.T) {
	data := t.TempDir()
	runOK(t, "demo", "gameai", "--entities", "40000", "--ticks", "1", "--data", data)

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_AS, &old))
	lim := vmSize(t) + 192<<20 // the loaded game and its saves need about 230 MB
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_AS, &old) })

	code, out, errOut := run(t, "demo", "gameai", "--load", "--ticks", "1", "--data", data)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "stackless: the saved game in "+data+", of about 40000 entities, needs about 228 MB of memory (5700 bytes per entity playing and saving, measured), more than the ")
	assert.Contains(t, errOut, ": free memory or run it elsewhere, --save-every 0 (2000 bytes per entity), or raise the limit")

	// Without saves it fits, and it plays on from the save.
	code, out, errOut = run(t, "demo", "gameai", "--load", "--ticks", "2", "--save-every", "0", "--data", data)
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "tick 1, 40000 entities")
	assert.Contains(t, out, "not saved (--save-every 0)")

	// Loading maps the save's file whole and decodes its newest generation
	// beside the world it becomes: a save of a million entities (a 1.5 GB
	// file) was passed for 2 GB (playing on) and died in the runtime with
	// 4.6 GB left. Here: 40,000 entities and the file, about 190 MB.
	lim = vmSize(t) + 128<<20
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: old.Max}))
	code, out, errOut = run(t, "demo", "gameai", "--load", "--ticks", "1", "--save-every", "0", "--data", data)
	assert.Equal(t, exitFailure, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "stackless: the saved game in "+data+", of about 40000 entities, needs about ")
	assert.Contains(t, errOut, " of memory to load (3200 bytes per entity and its ")
	assert.Contains(t, errOut, ": free memory or run it elsewhere, or raise the limit")
}

func vmSize(t *testing.T) uint64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}
