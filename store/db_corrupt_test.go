package store

// Damaged and refused files: corruption that the checksums or the segment
// parser catch, a damaged generation header, a locked file, and files that
// Open rejects.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/stackless-go/stackless/pickle"
)

// boltEdit changes a closed store file through a raw bbolt handle.
func boltEdit(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, bdb.Update(fn))
	require.NoError(t, bdb.Close())
}

func flipValue(bucket, key []byte, at int) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		v := b.Get(key)
		if v == nil {
			return fmt.Errorf("no %q in %q", key, bucket)
		}
		v = slices.Clone(v)
		v[(at%len(v)+len(v))%len(v)] ^= 0x20 // a negative at counts from the end
		return b.Put(key, v)
	}
}

// reseal rewrites the segment stored under key in bucket with a payload
// edit makes, stored under newKey with a valid checksum: damage that only the
// segment parser, not the CRC, can catch.
func reseal(bucket, key, newKey []byte, edit func(payload []byte) []byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		typ, payload, err := decodeValue(key, b.Get(key))
		if err != nil || typ != recSegment {
			return fmt.Errorf("no segment under %q in %q: %v", key, bucket, err)
		}
		payload = edit(slices.Clone(payload))
		return errors.Join(b.Delete(key), b.Put(newKey, encodeValue(newKey, recSegment, payload)))
	}
}

// segmentPayload packs entries (a key of "" ends the records; "-key" is a tombstone) as one segment payload.
func segmentPayload(t testing.TB, kv ...string) []byte {
	w := newSegWriter(nil, 1<<20)
	for i := 0; i < len(kv); i += 2 {
		var err error
		if k, ok := strings.CutPrefix(kv[i], "-"); ok {
			err = w.add(recTombstone, []byte(k), nil)
		} else {
			err = w.add(recData, []byte(kv[i]), []byte(kv[i+1]))
		}
		require.NoError(t, err)
	}
	segs := w.segments(nil)
	require.Len(t, segs, 1)
	return segs[0].value[valueHeaderSize:]
}

func TestCorruption(t *testing.T) {
	// Generation 1: full {t/1, t/2, t/42}, one segment stored under "t/1";
	// 2: incremental on 1 (t/42 changed, t/2 deleted), one segment under "t/2".
	setup := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "world.db")
		db, err := Open(path)
		require.NoError(t, err)
		_, err = db.Save(&Checkpoint{Meta: []byte("hdr1"), Records: recordsOf(model{"t/1": "a", "t/2": "b", "t/42": "c"})})
		require.NoError(t, err)
		_, err = db.Save(&Checkpoint{Base: 1, Meta: []byte("hdr2"), Records: recordsOf(model{"t/42": "C"}), Deleted: keys("t/2")})
		require.NoError(t, err)
		require.NoError(t, db.Close())
		return path
	}
	seg1, seg2 := []byte("t/1"), []byte("t/2")
	lastByte := -1 // flipValue wraps: the value of the segment's last record
	cases := []struct {
		name    string
		edit    func(tx *bolt.Tx) error
		load    uint64
		gen     uint64
		key     string // first key of the damaged segment; "" when the damage is not in a segment
		reason  string
		okLoad1 bool // generation 1 is undamaged and must still load
	}{
		{"flip record value", flipValue(genBucket(2), seg2, lastByte), 2, 2, "t/2", "checksum mismatch", true},
		{"flip crc", flipValue(genBucket(2), seg2, 0), 2, 2, "t/2", "checksum mismatch", true},
		{"flip type byte", flipValue(genBucket(2), seg2, 4), 2, 2, "t/2", "checksum mismatch", true},
		{"flip tombstone", flipValue(genBucket(2), seg2, valueHeaderSize), 2, 2, "t/2", "checksum mismatch", true},
		{"flip overwritten base record", flipValue(genBucket(1), seg1, lastByte), 2, 1, "t/1", "checksum mismatch", false},
		{"flip meta", flipValue(bucketMeta, genKey(2), 6), 2, 2, "", "checksum mismatch", true},
		{"flip header", flipValue(bucketGens, genKey(2), 12), 2, 2, "", "checksum mismatch", true},
		{"flip base header", flipValue(bucketGens, genKey(1), 20), 2, 1, "", "checksum mismatch", false},
		{"truncated value", func(tx *bolt.Tx) error { return tx.Bucket(genBucket(1)).Put(seg1, []byte{1, 2, 3}) }, 1, 1, "t/1", "shorter than", false},
		{"moved to other key", func(tx *bolt.Tx) error {
			b := tx.Bucket(genBucket(1))
			v := slices.Clone(b.Get(seg1))
			return errors.Join(b.Delete(seg1), b.Put([]byte("t/0"), v))
		}, 1, 1, "t/0", "checksum mismatch", false},
		{"segment lost", func(tx *bolt.Tx) error { return tx.Bucket(genBucket(1)).Delete(seg1) }, 1, 1, "", "found 0 records and 0 deletions, the generation header says 3 and 0", false},
		{"base missing", func(tx *bolt.Tx) error { return tx.Bucket(bucketGens).Delete(genKey(1)) }, 2, 2, "", "its base generation 1 is missing", false},
		// Well-formed checksums around bad structure.
		{"not a segment", func(tx *bolt.Tx) error {
			return tx.Bucket(genBucket(1)).Put(seg1, encodeValue(seg1, recMeta, []byte("x")))
		}, 1, 1, "t/1", "found a meta where a segment of records belongs", false},
		{"resealed under another key", reseal(genBucket(1), seg1, []byte("t/0"), func(p []byte) []byte { return p }),
			1, 1, "t/0", `first entry's key "t/1" differs from the segment's key`, false},
		{"value runs past the end", reseal(genBucket(1), seg1, seg1, func(p []byte) []byte { p[3] = 0x7f; return p }),
			1, 1, "t/1", "run past the segment's end", false},
		{"truncated entry", reseal(genBucket(1), seg1, seg1, func(p []byte) []byte { return p[:len(p)-1] }),
			1, 1, "t/1", "run past the segment's end", false},
		{"empty segment", reseal(genBucket(1), seg1, seg1, func(p []byte) []byte { return nil }),
			1, 1, "t/1", "empty segment", false},
		{"tombstone in a full generation", reseal(genBucket(1), seg1, seg1, func([]byte) []byte {
			return segmentPayload(t, "-t/1", "", "t/2", "b", "t/42", "c")
		}), 1, 1, "t/1", `tombstone "t/1" in a full generation`, false},
		{"keys out of order across segments", func(tx *bolt.Tx) error {
			k := []byte("t/3") // sorts after "t/1", before the "t/42" inside that segment
			return tx.Bucket(genBucket(1)).Put(k, encodeValue(k, recSegment, segmentPayload(t, "t/3", "x")))
		}, 1, 1, "t/3", `key "t/3" does not come after "t/42"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := setup(t)
			boltEdit(t, path, tc.edit)
			db := openAt(t, path)
			_, err := db.Load(tc.load)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrCorrupt)
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.gen, ce.Gen)
			assert.Equal(t, tc.key, string(ce.Key))
			msg := err.Error()
			assert.Contains(t, msg, fmt.Sprintf("in generation %d of %s", tc.gen, path))
			if tc.key != "" {
				assert.Equal(t, "segment", ce.What)
				assert.Contains(t, msg, fmt.Sprintf("store: corrupt record segment from %q in generation", tc.key))
			}
			assert.Contains(t, msg, tc.reason)
			assert.Contains(t, msg, "an older generation may be intact (`stackless checkpoint ls` lists them, `stackless inspect --gen N` reads one)")
			_, werr := walked(t, db, tc.load)
			require.Error(t, werr, "a walk meets the damage too")
			assert.Equal(t, msg, werr.Error(), "and reports it as Load does")
			if tc.okLoad1 {
				got, err := db.Load(1)
				require.NoError(t, err, "undamaged older generation must still load")
				assert.Equal(t, model{"t/1": "a", "t/2": "b", "t/42": "c"}, modelOf(t, got))
			}
		})
	}
}

func TestCorruptHeaderStopsPruningNotSaving(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(path, WithKeep(1))
	require.NoError(t, err)
	_, err = db.Save(&Checkpoint{})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	boltEdit(t, path, flipValue(bucketGens, genKey(1), 9))

	db = openAt(t, path, WithKeep(1))
	_, err = db.List()
	assert.ErrorIs(t, err, ErrCorrupt)
	gen, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": "b"})})
	require.NoError(t, err, "a damaged old header must not block new checkpoints")
	got, err := db.Load(gen)
	require.NoError(t, err)
	assert.Equal(t, model{"a": "b"}, modelOf(t, got))
	assert.ErrorIs(t, db.Delete(gen), ErrCorrupt, "Delete cannot check dependants through a damaged header")
	require.NoError(t, db.Delete(1), "the damaged generation itself has no dependants and can be deleted")
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.db")
	first, err := Open(path)
	require.NoError(t, err)

	start := time.Now()
	second, err := Open(path, WithTimeout(50*time.Millisecond))
	require.Error(t, err)
	assert.Nil(t, second)
	assert.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), path)
	if runtime.GOOS == "linux" {
		assert.Contains(t, err.Error(), fmt.Sprintf("held open by this process (PID %d)", os.Getpid()))
	} else {
		assert.Contains(t, err.Error(), "another process")
	}
	assert.Less(t, time.Since(start), 5*time.Second)

	require.NoError(t, first.Close())
	again, err := Open(path, WithTimeout(50*time.Millisecond))
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, again.Close())
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "x.snap")
	require.NoError(t, WriteFile(snap, &Checkpoint{}))
	garbage := filepath.Join(dir, "garbage")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("garbage!"), 1024), 0o600))
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	bigGarbage := filepath.Join(dir, "big-garbage")
	require.NoError(t, os.WriteFile(bigGarbage, bytes.Repeat([]byte("garbage!"), 64<<10), 0o600))
	foreign := filepath.Join(dir, "foreign.db")
	boltEdit(t, foreign, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err })
	future := filepath.Join(dir, "future.db")
	db, err := Open(future)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	boltEdit(t, future, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInfo).Put(keyFormat, encodeValue(keyFormat, recFormat, []byte{0, 0, 0, 9}))
	})

	old := filepath.Join(dir, "old.db")
	db, err = Open(old)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	boltEdit(t, old, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInfo).Put(keyFormat, encodeValue(keyFormat, recFormat, []byte{0, 0, 0, 1}))
	})

	cases := []struct {
		name, path, want string
		is               error
	}{
		{"snapshot file", snap, "is a snapshot file; read it with store.ReadFile", ErrNotDatabase},
		{"garbage", garbage, "has no bbolt header", ErrNotDatabase},
		{"big garbage", bigGarbage, "has no bbolt header", ErrNotDatabase},
		{"empty file", empty, "is empty (0 bytes)", ErrNotDatabase},
		{"a folder", dir, "is a directory, not a regular file", ErrNotDatabase},
		{"foreign bbolt", foreign, `not a stackless checkpoint store (it has buckets ["users"]`, ErrNotDatabase},
		{"future format", future, "has format version 9; this build reads version 2; upgrade stackless", ErrVersion},
		{"old format", old, "has format version 1, written by an older stackless; this build reads version 2 only", ErrVersion},
		{"bad keep", filepath.Join(dir, "k.db"), "keep must be >= 0", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithTimeout(100 * time.Millisecond)}
			if tc.name == "bad keep" {
				opts = append(opts, WithKeep(-1))
			}
			db, err := Open(tc.path, opts...)
			if db != nil {
				_ = db.Close()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), tc.path)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
	st, err := os.Stat(empty)
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "the empty file is left as it was, not made a new database")
}

// Damage in a program's records names the record as inspect shows it, not
// as the raw bytes of its key ("c\x00\x00\x00\x00\x00\x06d\xec" was a
// channel of a saved game).
func TestCorruptErrorNamesTheRecord(t *testing.T) {
	for key, want := range map[string]string{
		string(pickle.ChannelKey(411372)): "corrupt record segment from channel ch411372 in generation 3 of g.db: checksum mismatch;",
		string(pickle.TaskletKey(7)):      "corrupt record segment from tasklet t7 in generation 3 of g.db: checksum mismatch;",
		"t/2":                             `corrupt record segment from "t/2" in generation 3 of g.db: checksum mismatch;`,
	} {
		err := &CorruptError{Path: "g.db", Gen: 3, Key: []byte(key), What: "segment", Offset: -1, Reason: "checksum mismatch"}
		assert.Contains(t, err.Error(), want)
	}
	err := &CorruptError{Path: "g.db", Gen: 3, Key: pickle.TaskletKey(9), Offset: -1, Reason: "bad header"}
	assert.Contains(t, err.Error(), "store: corrupt record tasklet t9 in generation 3 of g.db: bad header;")
}
