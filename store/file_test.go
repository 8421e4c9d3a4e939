package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// snapshotBytes encodes cp as WriteFile would.
func snapshotBytes(t testing.TB, cp *Checkpoint) []byte {
	t.Helper()
	recs, err := checkSnapshot("mem", cp)
	require.NoError(t, err)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	require.NoError(t, encodeSnapshot(w, cp, recs))
	require.NoError(t, w.Flush())
	return buf.Bytes()
}

// snapshotHeader is a valid snapshot up to (not including) the records array.
func snapshotHeader(t testing.TB) []byte {
	b := snapshotBytes(t, &Checkpoint{Gen: 1, Time: time.Unix(1, 0)})
	return b[:len(b)-6] // drop the empty records array (0x90) and the file CRC (5 bytes)
}

func smallSnapshot() *Checkpoint {
	return &Checkpoint{
		Gen:     7,
		Time:    time.Unix(1700000000, 123456789),
		Meta:    []byte("world header"),
		Records: recordsOf(model{"c/1": "chan", "t/1": "tasklet one", "t/2": ""}),
	}
}

func TestWriteReadFile(t *testing.T) {
	many := model{}
	for i := range 70000 { // > 65535: exercises the array32 header
		many[fmt.Sprintf("t/%06d", i)] = strings.Repeat("v", i%50)
	}
	cases := []struct {
		name string
		cp   *Checkpoint
	}{
		{"small", smallSnapshot()},
		{"empty", &Checkpoint{Gen: 1, Time: time.Unix(0, 1)}},
		{"negative time", &Checkpoint{Gen: 1, Time: time.Unix(-5, 0), Records: recordsOf(model{"a": "b"})}},
		{"big values", &Checkpoint{Gen: 1 << 40, Time: time.Unix(1, 0), Meta: make([]byte, 70000),
			Records: recordsOf(model{"a": strings.Repeat("x", 300), "b": strings.Repeat("y", 70000)})}},
		{"many", &Checkpoint{Gen: 3, Time: time.Unix(2, 0), Records: recordsOf(many)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.snap")
			require.NoError(t, WriteFile(path, tc.cp))
			got, err := ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.cp.Gen, got.Gen)
			assert.True(t, tc.cp.Time.Equal(got.Time), "%v != %v", tc.cp.Time, got.Time)
			assert.Equal(t, string(tc.cp.Meta), string(got.Meta))
			assert.Zero(t, got.Base)
			assert.Equal(t, modelOf(t, tc.cp), modelOf(t, got))

			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file left behind")
		})
	}
}

func TestWriteFileFromDBAndOverwrite(t *testing.T) {
	db := openTest(t)
	_, err := db.Save(&Checkpoint{Meta: []byte("m"), Records: recordsOf(model{"a": "1", "b": "2"})})
	require.NoError(t, err)
	gen, err := db.Save(&Checkpoint{Base: 1, Meta: []byte("m2"), Records: recordsOf(model{"c": "3"}), Deleted: keys("a")})
	require.NoError(t, err)
	cp, err := db.Load(gen)
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "world.snap")
	require.NoError(t, os.WriteFile(path, []byte("old contents"), 0o600))
	require.NoError(t, WriteFile(path, cp))
	got, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, gen, got.Gen)
	assert.Equal(t, "m2", string(got.Meta))
	assert.Equal(t, model{"b": "2", "c": "3"}, modelOf(t, got))
}

func TestWriteFileRejects(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cp   *Checkpoint
		want string
	}{
		{"nil", nil, "nil checkpoint"},
		{"incremental", &Checkpoint{Base: 3}, "this checkpoint is incremental (Base=3"},
		{"deleted", &Checkpoint{Deleted: keys("a")}, "1 deleted keys"},
		{"empty key", &Checkpoint{Records: []Record{{Value: []byte("v")}}}, "record 0: empty key"},
		{"duplicate", &Checkpoint{Records: []Record{{Key: []byte("a")}, {Key: []byte("a")}}}, `duplicate record key "a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.snap")
			err := WriteFile(path, tc.cp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
			_, statErr := os.Stat(path)
			assert.True(t, os.IsNotExist(statErr), "nothing written")
		})
	}
}

// WriteFile renamed its snapshot over whatever was at the path: run as
// root, `checkpoint export DB /dev/full --force` made /dev/full a file. A
// FIFO or a directory stays, and the error says what it is.
func TestWriteFileReplacesOnlyARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "keep"), nil, 0o600))
	for path, kind := range map[string]string{fifo: "a named pipe (FIFO)", sub: "a directory"} {
		before, err := os.Lstat(path)
		require.NoError(t, err)
		err = WriteFile(path, smallSnapshot())
		require.Error(t, err, path)
		assert.Contains(t, err.Error(), path+" is "+kind+", not a regular file")
		after, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, before.Mode(), after.Mode(), "%s was replaced", path)
	}
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("old"), 0o600))
	require.NoError(t, WriteFile(file, smallSnapshot()), "a regular file is replaced")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "no temporary file left behind")
}

// TestSnapshotIsMsgpack checks that a generic msgpack decoder reads the file
// (v5.3.6 is safe on our own, trusted output).
func TestSnapshotIsMsgpack(t *testing.T) {
	data := snapshotBytes(t, smallSnapshot())
	var doc []any
	require.NoError(t, msgpack.Unmarshal(data, &doc))
	require.Len(t, doc, 7)
	assert.Equal(t, "stackless-snapshot", doc[0])
	assert.EqualValues(t, 1, doc[1])
	assert.EqualValues(t, 7, doc[2])
	assert.EqualValues(t, int64(1700000000123456789), doc[3])
	assert.Equal(t, []byte("world header"), doc[4])
	recs, ok := doc[5].([]any)
	require.True(t, ok)
	require.Len(t, recs, 3)
	first := recs[0].([]any)
	assert.Equal(t, []byte("c/1"), first[0])
	assert.EqualValues(t, crc32c([]byte("chan")), first[1])
	assert.Equal(t, []byte("chan"), first[2])
	assert.EqualValues(t, crc32c(data[:len(data)-5]), doc[6])
	assert.True(t, bytes.HasPrefix(data, snapshotPrefix))
}

func TestReadFileDamaged(t *testing.T) {
	good := snapshotBytes(t, smallSnapshot())
	dir := t.TempDir()
	path := filepath.Join(dir, "x.snap")

	t.Run("every truncation", func(t *testing.T) {
		for n := 0; n < len(good); n++ {
			_, err := parseSnapshot(path, good[:n])
			require.Error(t, err, "truncated to %d bytes", n)
			require.ErrorIs(t, err, ErrCorrupt, "truncated to %d bytes", n)
		}
	})
	t.Run("every flipped byte", func(t *testing.T) {
		for i := range good {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(good)
				bad[i] ^= mask
				_, err := parseSnapshot(path, bad)
				require.Error(t, err, "flip 0x%02x at byte %d accepted", mask, i)
			}
		}
	})

	// Each case rewrites the good file and expects an error naming the file.
	futureVersion := bytes.Clone(good)
	futureVersion[len(snapshotPrefix)] = 9 // the version is a positive fixint
	valueCRC := bytes.Clone(good)
	i := bytes.Index(valueCRC, []byte("tasklet one"))
	valueCRC[i] ^= 1
	fileCRC := bytes.Clone(good)
	fileCRC[len(fileCRC)-1] ^= 1

	cases := []struct {
		name    string
		data    []byte
		want    string
		corrupt bool
	}{
		{"empty", nil, "empty file", true},
		{"truncated", good[:len(good)-10], "file truncated", true},
		{"truncated in records", good[:len(good)/2], "file truncated", true},
		{"value flipped", valueCRC, `records[1] (key "t/1"): value checksum mismatch`, true},
		{"file checksum", fileCRC, "file checksum mismatch", true},
		{"trailing bytes", append(bytes.Clone(good), 0), "1 unexpected bytes after the end", true},
		{"wrong magic", append([]byte{0x97, 0xb2}, "stackless-snapshoT"...), "not a stackless snapshot file (bad magic)", true},
		{"text file", []byte("hello world\n"), "not a stackless snapshot file", true},
		{"future version", futureVersion, "snapshot file " + path + " has format version 9; this build reads version 1; upgrade stackless", false},
		{"huge records array", append(snapshotHeader(t), 0xdd, 0xff, 0xff, 0xff, 0xff), "records array declares 4294967295 records", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, tc.data, 0o600))
			_, err := ReadFile(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
			if tc.corrupt {
				assert.ErrorIs(t, err, ErrCorrupt)
			} else {
				assert.ErrorIs(t, err, ErrVersion)
			}
		})
	}

	t.Run("bbolt file", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "w.db")
		db, err := Open(dbPath)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = ReadFile(dbPath)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "it looks like a bbolt checkpoint database: open it with store.Open")
	})
	t.Run("too big", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, good, 0o600))
		_, err := ReadFileLimit(path, int64(len(good)-1))
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("file is %d bytes, over the %d-byte limit", len(good), len(good)-1))
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadFile(filepath.Join(dir, "nope.snap"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nope.snap")
	})
}

// TestParseHostileLengths feeds declared lengths far beyond the input and
// checks the parser refuses them without allocating for them.
func TestParseHostileLengths(t *testing.T) {
	header := snapshotHeader(t)
	cases := map[string][]byte{
		"array32 records":   append(bytes.Clone(header), 0xdd, 0xff, 0xff, 0xff, 0xff),
		"array16 records":   append(bytes.Clone(header), 0xdc, 0xff, 0xff),
		"bin32 key":         append(bytes.Clone(header), 0x91, 0x93, 0xc6, 0xff, 0xff, 0xff, 0xff),
		"bin32 value":       append(bytes.Clone(header), 0x91, 0x93, 0xc4, 0x01, 'k', 0x00, 0xc6, 0x7f, 0xff, 0xff, 0xff),
		"array32 file":      {0xdd, 0xff, 0xff, 0xff, 0xff},
		"str32 magic":       {0x97, 0xdb, 0xff, 0xff, 0xff, 0xff},
		"bin32 meta":        append(bytes.Clone(header[:len(header)-2]), 0xc6, 0xff, 0xff, 0xff, 0xff),
		"array32 record":    append(bytes.Clone(header), 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff),
		"uint64 generation": append(bytes.Clone(snapshotPrefix), 0x01, 0xcf, 0xff),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := parseSnapshot("hostile", data)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "allocated for a length that is not there")
		})
	}
}

func TestIsSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "x.snap")
	require.NoError(t, WriteFile(snap, smallSnapshot()))
	dbPath := filepath.Join(dir, "w.db")
	db, err := Open(dbPath)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, snapshotPrefix[:5], 0o600))

	cases := []struct {
		name, path string
		want       bool
	}{
		{"snapshot", snap, true},
		{"bbolt", dbPath, false},
		{"empty", empty, false},
		{"short prefix", short, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IsSnapshotFile(tc.path)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err = IsSnapshotFile(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// TestParseIntegers covers every msgpack integer encoding the parser accepts,
// including ones WriteFile never produces.
func TestParseIntegers(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		u    uint64
		i    int64
		uErr bool
		iErr bool
	}{
		{"fixint", []byte{0x05}, 5, 5, false, false},
		{"negative fixint", []byte{0xff}, 0, -1, true, false},
		{"uint8", []byte{0xcc, 0xff}, 255, 255, false, false},
		{"uint16", []byte{0xcd, 0x01, 0x00}, 256, 256, false, false},
		{"uint32", []byte{0xce, 0xff, 0xff, 0xff, 0xff}, 1<<32 - 1, 1<<32 - 1, false, false},
		{"uint64 max", []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<64 - 1, 0, false, true},
		{"int8 negative", []byte{0xd0, 0x80}, 0, -128, true, false},
		{"int8 positive", []byte{0xd0, 0x7f}, 127, 127, false, false},
		{"int16 negative", []byte{0xd1, 0xff, 0xfe}, 0, -2, true, false},
		{"int32 negative", []byte{0xd2, 0x80, 0, 0, 0}, 0, -1 << 31, true, false},
		{"int64 negative", []byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd}, 0, -3, true, false},
		{"int64 positive", []byte{0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0}, 256, 256, false, false},
		{"truncated", []byte{0xcd, 0x01}, 0, 0, true, true},
		{"not an int", []byte{0xc4, 0x00}, 0, 0, true, true},
		{"empty", nil, 0, 0, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &snapParser{name: "x", b: tc.in, rec: -1}
			u, err := p.uint("n")
			if tc.uErr {
				assert.ErrorIs(t, err, ErrCorrupt)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.u, u)
				assert.Equal(t, len(tc.in), p.off)
			}
			p = &snapParser{name: "x", b: tc.in, rec: -1}
			i, err := p.int("n")
			if tc.iErr {
				assert.ErrorIs(t, err, ErrCorrupt)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.i, i)
			}
		})
	}
}

// A snapshot over the size readers accept was written all the same (1 GiB
// then, about what a million-entity game exports) and then refused by
// every reader. It is refused before anything is written.
func TestWriteFileRefusesWhatNoReaderTakes(t *testing.T) {
	value := make([]byte, 64<<20) // shared by every record: nothing is allocated per record
	cp := &Checkpoint{Meta: []byte("meta")}
	for i := range DefaultMaxSnapshotSize/len(value) + 1 {
		cp.Records = append(cp.Records, Record{Key: fmt.Appendf(nil, "k%04d", i), Value: value})
	}
	path := filepath.Join(t.TempDir(), "big.snapshot")
	err := WriteFile(path, cp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "over the 4294967296-byte snapshot limit")
	assert.NoFileExists(t, path)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary file left")
}
