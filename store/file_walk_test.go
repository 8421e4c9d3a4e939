package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walkFile runs WalkFile on data, written to a file, through a window of
// window bytes, and collects what it hands over. It walks the file twice
// more through one SnapshotFile, each of which must give the same.
func walkFile(t testing.TB, data []byte, window int) (*Checkpoint, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.snap")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	old := walkWindow
	walkWindow = window
	defer func() { walkWindow = old }()
	var cp *Checkpoint
	collect := func(walk func(start func(*Checkpoint) error, fn func(k, v []byte) error) error) (*Checkpoint, error) {
		cp = nil
		err := walk(func(c *Checkpoint) error {
			cp = c
			return nil
		}, func(k, v []byte) error {
			cp.Records = append(cp.Records, Record{Key: slices.Clone(k), Value: slices.Clone(v)})
			return nil
		})
		return cp, err
	}
	got, err := collect(func(start func(*Checkpoint) error, fn func(k, v []byte) error) error {
		return WalkFile(path, start, fn)
	})
	s, oerr := OpenSnapshotFile(path)
	if oerr != nil {
		require.Equal(t, err, oerr, "WalkFile and OpenSnapshotFile refuse alike")
		return got, path, err
	}
	defer s.Close()
	for range 2 {
		again, aerr := collect(s.Walk)
		require.Equal(t, fmt.Sprint(err), fmt.Sprint(aerr), "a walk of the open file fails as WalkFile does")
		require.Equal(t, got, again, "a walk of the open file gives what WalkFile gives")
	}
	return got, path, err
}

// sameAsParse checks that walking data gives what parseSnapshot gives: the
// same checkpoint, or the same error (with the walk's file name).
func sameAsParse(t testing.TB, data []byte, window int) {
	t.Helper()
	got, path, werr := walkFile(t, data, window)
	want, perr := parseSnapshot("PATH", data)
	if perr != nil {
		require.Error(t, werr, "window %d: the walk accepted what ReadFile refuses: %v", window, perr)
		msg := strings.ReplaceAll(werr.Error(), path, "PATH")
		require.Equal(t, perr.Error(), msg, "window %d", window)
		return
	}
	require.NoError(t, werr, "window %d", window)
	require.Equal(t, want.Gen, got.Gen)
	require.True(t, want.Time.Equal(got.Time))
	require.Equal(t, string(want.Meta), string(got.Meta))
	require.Equal(t, len(want.Records), len(got.Records))
	for i := range want.Records {
		require.Equal(t, want.Records[i].Key, got.Records[i].Key)
		require.Equal(t, want.Records[i].Value, got.Records[i].Value)
	}
}

func bigSnapshot() *Checkpoint {
	cp := &Checkpoint{Gen: 9, Time: time.Unix(1700000000, 5), Meta: bytes.Repeat([]byte("meta"), 300)}
	for i := range 200 {
		v := bytes.Repeat([]byte{byte(i)}, i*7%97)
		if i == 150 {
			v = bytes.Repeat([]byte("big"), 3000) // bigger than any window below
		}
		cp.Records = append(cp.Records, Record{Key: []byte(fmt.Sprintf("t%05d", i)), Value: v})
	}
	return cp
}

func TestWalkFileGivesWhatReadFileGives(t *testing.T) {
	for _, cp := range []*Checkpoint{smallSnapshot(), bigSnapshot(), {Gen: 1, Time: time.Unix(1, 0)}} {
		data := snapshotBytes(t, cp)
		for _, window := range []int{1, 7, 64, 4096, 1 << 20} {
			sameAsParse(t, data, window)
		}
	}
}

func TestWalkFileRefusesWhatReadFileRefuses(t *testing.T) {
	good := snapshotBytes(t, smallSnapshot())
	for n := 0; n < len(good); n++ {
		sameAsParse(t, good[:n], 8)
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x80
		sameAsParse(t, bad, 8)
	}
	sameAsParse(t, append(bytes.Clone(good), 0), 8)
}

func TestWalkFileStopsAtTheCallersError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.snap")
	require.NoError(t, WriteFile(path, bigSnapshot()))
	stop := fmt.Errorf("seen enough")
	seen := 0
	err := WalkFile(path, func(*Checkpoint) error { return nil }, func(k, v []byte) error {
		if seen++; seen == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 3, seen)
}

// FuzzSnapshotWalk fuzzes WalkFile, through a small window, against the
// whole-file parser: the same checkpoint or the same error, never a panic.
func FuzzSnapshotWalk(f *testing.F) {
	for _, s := range snapshotSeeds(f) {
		f.Add(s, uint16(16))
	}
	f.Add(snapshotBytes(f, bigSnapshot()), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, window uint16) {
		sameAsParse(t, data, int(window)%4096+1)
	})
}

// A snapshot written over the path of an open SnapshotFile (WriteFile
// renames the new file over the old) does not change what its walks see:
// inspect walks a file twice, and prints one snapshot, not parts of two.
func TestSnapshotFileWalksTheFileItOpened(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.snap")
	first, second := smallSnapshot(), bigSnapshot()
	require.NoError(t, WriteFile(path, first))
	s, err := OpenSnapshotFile(path)
	require.NoError(t, err)
	defer s.Close()
	keys := func(walk func(start func(*Checkpoint) error, fn func(k, v []byte) error) error) (uint64, []string) {
		var gen uint64
		var ks []string
		require.NoError(t, walk(func(c *Checkpoint) error {
			gen = c.Gen
			return nil
		}, func(k, _ []byte) error {
			ks = append(ks, string(k))
			return nil
		}))
		return gen, ks
	}
	var want []string
	for _, r := range first.Records {
		want = append(want, string(r.Key))
	}
	gen, got := keys(s.Walk)
	require.Equal(t, first.Gen, gen)
	require.Equal(t, want, got)

	require.NoError(t, WriteFile(path, second))
	gen, got = keys(s.Walk)
	assert.Equal(t, first.Gen, gen, "the second walk read the file renamed over the path")
	assert.Equal(t, want, got)
	gen, _ = keys(func(start func(*Checkpoint) error, fn func(k, v []byte) error) error {
		return WalkFile(path, start, fn)
	})
	assert.Equal(t, second.Gen, gen, "the path holds the new snapshot")
}

// A snapshot cut short in place (not replaced) while a SnapshotFile holds
// it open fails the next walk with an error naming the file; it reads no
// further than the size the file had at open either.
func TestSnapshotFileCutInPlaceFailsTheWalk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.snap")
	require.NoError(t, WriteFile(path, bigSnapshot()))
	s, err := OpenSnapshotFile(path)
	require.NoError(t, err)
	defer s.Close()
	nop := func(*Checkpoint) error { return nil }
	rec := func(k, v []byte) error { return nil }
	require.NoError(t, s.Walk(nop, rec))

	info, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, info.Size()/2))
	err = s.Walk(nop, rec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)

	require.NoError(t, os.Truncate(path, info.Size()*2)) // grown: zeros past the old end
	err = s.Walk(nop, rec)
	require.Error(t, err, "the first half is followed by zeros, not the records")
}
