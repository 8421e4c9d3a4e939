package store_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/store"
)

// fullEnv makes the test binary a child that saves into a new database
// past a file size limit (a full disk, for the process) and prints the
// error. Go ignores SIGXFSZ, so the write fails with EFBIG instead of
// killing the process.
const fullEnv = "STACKLESS_TEST_FULL_SAVE"

// first is the checkpoint the child stores before the limit.
var first = &store.Checkpoint{Meta: []byte("first"), Records: []store.Record{{Key: []byte("a"), Value: []byte("one")}}}

func saveOverLimit(path string) {
	db, err := store.Open(path)
	if err == nil {
		_, err = db.Save(first)
	}
	var st os.FileInfo
	if err == nil {
		st, err = os.Stat(path)
	}
	if err != nil {
		fmt.Println("setup:", err)
		return
	}
	snap := path + ".snapshot"
	if err := store.WriteFile(snap, first); err != nil {
		fmt.Println("setup:", err)
		return
	}
	lim := uint64(st.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		fmt.Println("setup:", err)
		return
	}
	big := &store.Checkpoint{Meta: []byte("big")}
	for i := range st.Size()/(64<<10) + 16 { // more than the file holds: it must grow
		big.Records = append(big.Records, store.Record{Key: fmt.Appendf(nil, "k%06d", i), Value: bytes.Repeat([]byte{byte(i)}, 64<<10)})
	}
	_, err = db.Save(big)
	fmt.Println("save:", err)
	fmt.Println("snapshot:", store.WriteFile(snap, big))
	fmt.Println("close:", db.Close())
}

// A save on a full disk fails saying so, names the database (not the
// temporary name a new database was made under: "write
// .world.db.new-123: no space left on device"), and leaves the generation
// stored before intact: it loads, and the next save after space is freed
// succeeds.
func TestSaveOnAFullDiskKeepsTheLastGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	text := runOnAFullDisk(t, path)
	assert.Contains(t, text, "save: store: save to "+path+": ")
	assert.Contains(t, text, path+": file too large")
	assert.Contains(t, text, "the disk (or a quota or file size limit) is full")
	assert.Contains(t, text, "what was stored before is intact")
	assert.NotContains(t, text, ".new-", "the temporary name is gone once the database is linked")
	assert.True(t, strings.HasSuffix(text, "close: <nil>\n"), text)

	db, err := store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	gens, err := db.List()
	require.NoError(t, err)
	require.Len(t, gens, 1, "the failed save left no generation")
	cp, err := db.Load(1)
	require.NoError(t, err)
	assert.Equal(t, first.Meta, cp.Meta)
	assert.Equal(t, first.Records, cp.Records)
	gen, err := db.Save(&store.Checkpoint{Meta: []byte("after")})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), gen)
}

// A snapshot written on a full disk fails saying so, names the snapshot
// (not its removed temporary file: "write .world.db.snapshot.tmp-123: no
// space left on device") and leaves the one there before readable.
func TestWriteFileOnAFullDiskKeepsTheOldSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	text := runOnAFullDisk(t, path)
	snap := path + ".snapshot"
	assert.Contains(t, text, "snapshot: store: write snapshot "+snap+": write: file too large: the disk (or a quota or file size limit) is full; "+
		snap+" is unchanged and no temporary file is left: free space and try again")
	assert.NotContains(t, text, ".tmp-")
	cp, err := store.ReadFile(snap)
	require.NoError(t, err)
	assert.Equal(t, first.Meta, cp.Meta)
	names, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, names, 2, "the database and its snapshot; no temporary file")
}

// runOnAFullDisk runs this test binary again with fullEnv naming path: it
// saves and writes a snapshot past a file size limit (see fullEnv) and
// prints what happened.
func runOnAFullDisk(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fullEnv+"="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	text := string(out)
	require.NotContains(t, text, "setup:")
	return text
}
