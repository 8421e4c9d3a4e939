package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// asLimitEnv makes the test binary a child that, under a limit of address
// space 512 MiB above what it uses (ulimit -v), creates a database, saves
// into it, and opens it again, printing what happened.
const asLimitEnv = "STACKLESS_TEST_AS_LIMIT"

// asOpenOnlyEnv makes that child only open the database, 256 MiB above
// what it uses: far below the 1 GiB file it must fail to map, and room for
// the threads the runtime (and, under -race, ThreadSanitizer, whose trace
// buffers ran out of a 64 MiB margin in one CI run) starts meanwhile.
const asOpenOnlyEnv = "STACKLESS_TEST_AS_OPEN_ONLY"

func saveUnderASLimit(path string) {
	openOnly := os.Getenv(asOpenOnlyEnv) != ""
	used, err := vmSize()
	if err == nil {
		lim := used + 512<<20
		if openOnly {
			lim = used + 256<<20
		}
		err = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim})
	}
	if err != nil {
		fmt.Println("setup:", err)
		return
	}
	if openOnly {
		db, err := store.Open(path)
		if err == nil {
			err = db.Close()
		}
		fmt.Println("open:", err, "corrupt:", errors.Is(err, store.ErrCorrupt))
		return
	}
	db, err := store.Open(path)
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	_, err = db.Save(first)
	fmt.Println("save:", err, "close:", db.Close())
	db, err = store.Open(path)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	gens, err := db.List()
	fmt.Println("open: generations", len(gens), err, "close:", db.Close())
}

// vmSize is this process's address space in bytes (VmSize).
func vmSize() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}

// The 1 GiB of address space reserved for the mapping is a speed-up; under
// ulimit -v it made every create and open fail ("store: create X: cannot
// allocate memory"), though a small database needs a few pages.
func TestOpenUnderAnAddressSpaceLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asLimitEnv+"="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "save: <nil> close: <nil>\nopen: generations 1 <nil> close: <nil>\n", string(out))
}

// A database too large to map under ulimit -v was reported as damaged,
// "bbolt refuses it: cannot allocate memory; restore it from a backup, or
// move it away to start a new database": advice that throws away a good
// file. It now says the file is intact and what limit was in the way.
func TestOpenTooLargeToMapIsNotDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	_, err = db.Save(first)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, os.Truncate(path, 1<<30)) // sparse: bbolt maps the whole file

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), asLimitEnv+"="+path, asOpenOnlyEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "open: store: open "+path+": mapping its 1.1 GB into memory failed (")
	assert.Contains(t, string(out), "left under ulimit -v (RLIMIT_AS) of ")
	assert.Contains(t, string(out), "the file is not damaged: raise the limit (ulimit -v) or free memory, and open it again corrupt: false")

	db, err = store.Open(path) // without the limit it opens, and holds its generation
	require.NoError(t, err)
	gens, err := db.List()
	require.NoError(t, err)
	assert.Len(t, gens, 1)
	require.NoError(t, db.Close())
}
