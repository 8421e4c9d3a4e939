package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a database in a fresh temp dir and closes it at the end of the test.
func openTest(t testing.TB, opts ...Option) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "world.db"), opts...)
}

func openAt(t testing.TB, path string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// model is the expected resolved content of a generation.
type model map[string]string

func recordsOf(m model) []Record {
	out := make([]Record, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Record{Key: []byte(k), Value: []byte(m[k])})
	}
	return out
}

func modelOf(t testing.TB, cp *Checkpoint) model {
	t.Helper()
	m := model{}
	for i, r := range cp.Records {
		if i > 0 {
			require.Negative(t, bytes.Compare(cp.Records[i-1].Key, r.Key), "records not sorted at %d", i)
		}
		m[string(r.Key)] = string(r.Value)
	}
	return m
}

func keys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

func gensOf(t testing.TB, db *DB) []uint64 {
	t.Helper()
	infos, err := db.List()
	require.NoError(t, err)
	out := []uint64{}
	for _, in := range infos {
		out = append(out, in.Gen)
	}
	return out
}

func TestSaveLoadFull(t *testing.T) {
	big := model{}
	for i := range 5000 {
		big[fmt.Sprintf("t/%06d", i)] = strings.Repeat("x", i%300)
	}
	cases := []struct {
		name string
		m    model
		meta []byte
	}{
		{"empty", model{}, nil},
		{"one", model{"t/1": "one"}, []byte("hdr")},
		{"empty value", model{"t/1": "", "t/2": "two"}, []byte{0}},
		{"binary keys", model{"\x00": "zero", "\xff\xff": "max", "a\x00b": "mid"}, nil},
		{"many", big, bytes.Repeat([]byte("m"), 100000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t)
			cp := &Checkpoint{Meta: tc.meta, Records: recordsOf(tc.m)}
			gen, err := db.Save(cp)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), gen)
			assert.Equal(t, gen, cp.Gen, "Save sets cp.Gen")
			assert.False(t, cp.Time.IsZero(), "Save sets cp.Time")

			got, err := db.Load(gen)
			require.NoError(t, err)
			assert.Equal(t, gen, got.Gen)
			assert.Zero(t, got.Base)
			assert.True(t, got.Full())
			assert.Empty(t, got.Deleted)
			assert.True(t, cp.Time.Equal(got.Time), "time %v != %v", cp.Time, got.Time)
			assert.Equal(t, string(tc.meta), string(got.Meta))
			assert.Equal(t, tc.m, modelOf(t, got))

			latest, err := db.Latest()
			require.NoError(t, err)
			assert.Equal(t, gen, latest)
		})
	}
}

func TestSaveUnsortedInputAndKeepsCallerSlices(t *testing.T) {
	db := openTest(t)
	in := []Record{{Key: []byte("c"), Value: []byte("3")}, {Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}
	orig := slices.Clone(in)
	ts := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	gen, err := db.Save(&Checkpoint{Time: ts, Records: in})
	require.NoError(t, err)
	assert.Equal(t, orig, in, "Save must not reorder the caller's slice")
	got, err := db.Load(gen)
	require.NoError(t, err)
	assert.Equal(t, model{"a": "1", "b": "2", "c": "3"}, modelOf(t, got))
	assert.True(t, ts.Equal(got.Time))
}

func TestLoadedSlicesAreIndependent(t *testing.T) {
	db := openTest(t)
	gen, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": "1", "b": "2"})})
	require.NoError(t, err)
	got, err := db.Load(gen)
	require.NoError(t, err)
	require.Len(t, got.Records, 2)
	_ = append(got.Records[0].Value, "XXXXXXXX"...)
	_ = append(got.Records[0].Key, "YYYYYYYY"...)
	assert.Equal(t, model{"a": "1", "b": "2"}, modelOf(t, got), "appending to one record must not clobber another")
}

func TestSaveValidation(t *testing.T) {
	cases := []struct {
		name string
		cp   *Checkpoint
		want string
		is   error
	}{
		{"nil", nil, "nil checkpoint", nil},
		{"empty key", &Checkpoint{Records: []Record{{Key: nil, Value: []byte("v")}}}, "record 0: empty key", nil},
		{"long key", &Checkpoint{Records: []Record{{Key: make([]byte, MaxKeySize+1)}}}, "keys are limited to 1024 bytes", nil},
		{"big value", &Checkpoint{Records: []Record{{Key: []byte("k"), Value: make([]byte, 65)}}}, `record "k": value is 65 bytes, over the 64-byte limit; raise it with store.WithMaxRecord`, nil},
		{"big meta", &Checkpoint{Meta: make([]byte, 65)}, "Meta is 65 bytes", nil},
		{"full with deleted", &Checkpoint{Deleted: keys("a")}, "a full checkpoint (Base=0) cannot have Deleted keys", nil},
		{"duplicate key", &Checkpoint{Records: []Record{{Key: []byte("b")}, {Key: []byte("a")}, {Key: []byte("b")}}}, `duplicate record key "b"`, nil},
		{"duplicate deleted", &Checkpoint{Base: 1, Deleted: keys("x", "x")}, `duplicate deleted key "x"`, nil},
		{"record and deleted", &Checkpoint{Base: 1, Records: recordsOf(model{"x": "1"}), Deleted: keys("x")}, `key "x" is both in Records and Deleted`, nil},
		{"empty deleted key", &Checkpoint{Base: 1, Deleted: keys("")}, "deleted key 0: empty key", nil},
		{"missing base", &Checkpoint{Base: 42}, "base generation 42", ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t, WithMaxRecord(64))
			_, err := db.Save(&Checkpoint{Records: recordsOf(model{"x": "0"})})
			require.NoError(t, err)
			_, err = db.Save(tc.cp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), db.Path())
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Equal(t, []uint64{1}, gensOf(t, db), "a rejected Save stores nothing")
		})
	}
}

func TestIncrementalChain(t *testing.T) {
	db := openTest(t, WithKeep(0))
	type step struct {
		base    uint64
		records model
		deleted []string
		want    model
	}
	steps := []step{
		{0, model{"a": "1", "b": "1", "c": "1"}, nil, model{"a": "1", "b": "1", "c": "1"}},                             // 1
		{1, model{"b": "2", "d": "2"}, []string{"c"}, model{"a": "1", "b": "2", "d": "2"}},                             // 2: change, add, delete
		{2, model{"c": "3"}, []string{"d", "a"}, model{"b": "2", "c": "3"}},                                            // 3: re-add c, delete two
		{3, model{"a": "4"}, []string{"zz-never-existed"}, model{"a": "4", "b": "2", "c": "3"}},                        // 4: re-add a; no-op delete
		{2, model{"e": "5"}, nil, model{"a": "1", "b": "2", "d": "2", "e": "5"}},                                       // 5: branch from 2
		{4, nil, []string{"a", "b", "c"}, model{}},                                                                     // 6: delete everything
		{6, model{"a": "7"}, nil, model{"a": "7"}},                                                                     // 7: re-add after empty
		{0, model{"q": "8"}, nil, model{"q": "8"}},                                                                     // 8: new full
		{7, model{"b": "9"}, []string{}, model{"a": "7", "b": "9"}},                                                    // 9: chain of 6 incrementals
		{1, nil, nil, model{"a": "1", "b": "1", "c": "1"}},                                                             // 10: empty incremental
		{9, model{"a": "11", "b": "11", "c": "11", "d": "11"}, nil, model{"a": "11", "b": "11", "c": "11", "d": "11"}}, // 11
	}
	for i, s := range steps {
		gen, err := db.Save(&Checkpoint{Base: s.base, Meta: []byte(fmt.Sprint(i + 1)), Records: recordsOf(s.records), Deleted: keys(s.deleted...)})
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), gen)
	}
	// Every generation still resolves correctly after all later saves.
	for i, s := range steps {
		gen := uint64(i + 1)
		t.Run(fmt.Sprint("gen", gen), func(t *testing.T) {
			got, err := db.Load(gen)
			require.NoError(t, err)
			assert.Equal(t, gen, got.Gen)
			assert.Zero(t, got.Base, "Load returns the resolved full view")
			assert.Equal(t, fmt.Sprint(gen), string(got.Meta), "meta is the generation's own")
			assert.Equal(t, s.want, modelOf(t, got))
		})
	}
	infos, err := db.List()
	require.NoError(t, err)
	require.Len(t, infos, len(steps))
	assert.Equal(t, GenInfo{Gen: 3, Base: 2, Time: infos[2].Time, Records: 1, Deleted: 2, Bytes: 2 + 2 + 1}, infos[2])
}

// expectedKept mirrors the retention rule: the newest keep generations plus
// their whole base chains.
func expectedKept(bases map[uint64]uint64, keep int) map[uint64]bool {
	all := slices.Sorted(maps.Keys(bases))
	if keep == 0 || len(all) <= keep {
		return setOf(all)
	}
	kept := map[uint64]bool{}
	for _, g := range all[len(all)-keep:] {
		for ; g != 0 && !kept[g]; g = bases[g] {
			kept[g] = true
		}
	}
	return kept
}

func setOf(gs []uint64) map[uint64]bool {
	m := map[uint64]bool{}
	for _, g := range gs {
		m[g] = true
	}
	return m
}

func TestRetention(t *testing.T) {
	// Generation i+1 has base bases[i].
	cases := []struct {
		name  string
		keep  int
		bases []uint64
		want  []uint64
	}{
		{"keep all", 0, []uint64{0, 0, 0, 0, 0}, []uint64{1, 2, 3, 4, 5}},
		{"fulls keep 2", 2, []uint64{0, 0, 0, 0, 0}, []uint64{4, 5}},
		{"fulls keep 1", 1, []uint64{0, 0, 0}, []uint64{3}},
		{"chain keeps its base", 1, []uint64{0, 1, 0, 3}, []uint64{3, 4}},
		{"long chain keeps every link", 2, []uint64{0, 1, 2, 3, 4, 5}, []uint64{1, 2, 3, 4, 5, 6}},
		{"old base of newest", 3, []uint64{0, 0, 0, 1, 0}, []uint64{1, 3, 4, 5}},
		{"branches", 3, []uint64{0, 1, 1, 0, 2, 4}, []uint64{1, 2, 4, 5, 6}},
		{"fewer than keep", 10, []uint64{0, 1}, []uint64{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t, WithKeep(tc.keep))
			for i, b := range tc.bases {
				gen, err := db.Save(&Checkpoint{Base: b, Records: recordsOf(model{fmt.Sprint("k", i): "v"})})
				require.NoError(t, err, "save %d", i+1)
				require.Equal(t, uint64(i+1), gen)
			}
			assert.Equal(t, tc.want, gensOf(t, db))
			for _, g := range tc.want {
				_, err := db.Load(g)
				assert.NoError(t, err, "kept generation %d must load", g)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	db := openTest(t, WithKeep(0))
	for _, b := range []uint64{0, 1, 1, 0} { // 2 and 3 depend on 1
		_, err := db.Save(&Checkpoint{Base: b, Records: recordsOf(model{"k": "v"})})
		require.NoError(t, err)
	}
	err := db.Delete(1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot delete generation 1")
	assert.Contains(t, err.Error(), "generation(s) 2, 3 are based on it")
	assert.Equal(t, []uint64{1, 2, 3, 4}, gensOf(t, db))

	require.NoError(t, db.Delete(2))
	require.Error(t, db.Delete(1))
	require.NoError(t, db.Delete(3))
	require.NoError(t, db.Delete(1))
	assert.Equal(t, []uint64{4}, gensOf(t, db))

	assert.ErrorIs(t, db.Delete(1), ErrNotFound)
	assert.ErrorContains(t, db.Delete(1), "`stackless checkpoint ls "+db.Path()+"` lists the stored ones", "names a command that exists")
	_, err = db.Load(1)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "`stackless checkpoint ls "+db.Path()+"` lists the stored ones")
	_, err = db.Save(&Checkpoint{Base: 1})
	assert.ErrorIs(t, err, ErrNotFound)

	// Deleting the newest never reuses its number.
	require.NoError(t, db.Delete(4))
	gen, err := db.Save(&Checkpoint{})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), gen)
}

func TestEmptyAndNotFound(t *testing.T) {
	db := openTest(t)
	_, err := db.Latest()
	assert.ErrorIs(t, err, ErrEmpty)
	assert.Contains(t, err.Error(), db.Path())
	for _, g := range []uint64{0, 1, 99} {
		_, err = db.Load(g)
		assert.ErrorIs(t, err, ErrNotFound)
	}
	infos, err := db.List()
	require.NoError(t, err)
	assert.Empty(t, infos)
}

func TestReopenContinuesNumbering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(path)
	require.NoError(t, err)
	for range 3 {
		_, err = db.Save(&Checkpoint{Records: recordsOf(model{"a": "b"})})
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	db = openAt(t, path)
	gen, err := db.Save(&Checkpoint{Base: 3, Records: recordsOf(model{"c": "d"})})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), gen)
	got, err := db.Load(4)
	require.NoError(t, err)
	assert.Equal(t, model{"a": "b", "c": "d"}, modelOf(t, got))
}

// TestRandomOpsAgainstModel runs 200 random operations (full and incremental
// saves on random bases, loads, deletes, reopens) against a map model.
func TestRandomOpsAgainstModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const keep = 4
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(path, WithKeep(keep))
	require.NoError(t, err)
	defer func() { _ = db.Close() }()

	want := map[uint64]model{} // resolved content of every stored generation
	bases := map[uint64]uint64{}
	var next uint64 = 1
	randKey := func() string { return fmt.Sprintf("k%02d", rng.IntN(40)) }
	stored := func() []uint64 { return append([]uint64{}, slices.Sorted(maps.Keys(want))...) }
	prune := func() { // Save's retention, mirrored in the model
		kept := expectedKept(bases, keep)
		for g := range want {
			if !kept[g] {
				delete(want, g)
				delete(bases, g)
			}
		}
	}

	for op := range 200 {
		gens := stored()
		switch r := rng.IntN(100); {
		case r < 25 || len(gens) == 0: // full save
			m := model{}
			for range rng.IntN(30) {
				m[randKey()] = fmt.Sprint("full", op)
			}
			gen, err := db.Save(&Checkpoint{Meta: []byte(fmt.Sprint(op)), Records: recordsOf(m)})
			require.NoError(t, err, "op %d", op)
			require.Equal(t, next, gen)
			want[gen], bases[gen] = m, 0
			next++
			prune()
		case r < 65: // incremental on a random stored generation
			base := gens[rng.IntN(len(gens))]
			m := maps.Clone(want[base])
			changed, deleted := model{}, []string{}
			for range rng.IntN(10) {
				k := randKey()
				changed[k] = fmt.Sprint("inc", op)
				m[k] = changed[k]
			}
			for range rng.IntN(6) {
				k := randKey()
				if _, ok := changed[k]; ok || slices.Contains(deleted, k) {
					continue
				}
				deleted = append(deleted, k) // may not exist in base: a no-op
				delete(m, k)
			}
			gen, err := db.Save(&Checkpoint{Base: base, Meta: []byte(fmt.Sprint(op)), Records: recordsOf(changed), Deleted: keys(deleted...)})
			require.NoError(t, err, "op %d", op)
			require.Equal(t, next, gen)
			want[gen], bases[gen] = m, base
			next++
			prune()
		case r < 85: // load
			g := gens[rng.IntN(len(gens))]
			got, err := db.Load(g)
			require.NoError(t, err, "op %d load %d", op, g)
			require.Equal(t, want[g], modelOf(t, got), "op %d load %d", op, g)
		case r < 93: // delete
			g := gens[rng.IntN(len(gens))]
			needed := false
			for _, other := range gens {
				needed = needed || bases[other] == g
			}
			err := db.Delete(g)
			if needed {
				require.Error(t, err, "op %d delete %d must be refused", op, g)
			} else {
				require.NoError(t, err, "op %d delete %d", op, g)
				delete(want, g)
				delete(bases, g)
			}
		default: // reopen
			require.NoError(t, db.Close())
			db, err = Open(path, WithKeep(keep))
			require.NoError(t, err)
		}
		require.Equal(t, stored(), gensOf(t, db), "op %d: stored generations", op)
	}
	for _, g := range stored() {
		got, err := db.Load(g)
		require.NoError(t, err)
		require.Equal(t, want[g], modelOf(t, got), "final load %d", g)
	}
}

func TestConcurrentSaveLoad(t *testing.T) {
	db := openTest(t, WithKeep(3))
	_, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": "0"})})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if w%2 == 0 {
					if _, err := db.Save(&Checkpoint{Records: recordsOf(model{"a": fmt.Sprint(w, i)})}); err != nil {
						errs <- err
					}
					continue
				}
				g, err := db.Latest()
				if err != nil {
					errs <- err
					continue
				}
				if _, err := db.Load(g); err != nil && !errors.Is(err, ErrNotFound) { // may be pruned meanwhile
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

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
			assert.Contains(t, msg, "restore an older generation with --gen")
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

// Crash atomicity: a child process saves generations forever and is killed
// with SIGKILL at a random point; the database must always reopen with the
// newest reported generation (or the one being committed) intact.

const crashRecords = 2000

func crashContent(gen uint64) []Record {
	recs := make([]Record, crashRecords)
	for i := range recs {
		recs[i] = Record{
			Key:   fmt.Appendf(nil, "t/%05d", i),
			Value: fmt.Appendf(nil, "gen=%d rec=%d %s", gen, i, strings.Repeat("x", int((gen*7+uint64(i))%97))),
		}
	}
	return recs
}

// TestCrashChild is the child half of TestCrashAtomicity; it only runs when re-executed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("STORE_CRASH_CHILD")
	if path == "" {
		t.Skip("helper process for TestCrashAtomicity")
	}
	db, err := Open(path, WithKeep(3), WithTimeout(5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	next := uint64(1)
	if g, err := db.Latest(); err == nil {
		next = g + 1
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		gen, err := db.Save(&Checkpoint{Meta: fmt.Appendf(nil, "meta %d", next), Records: crashContent(next)})
		if err != nil || gen != next {
			fmt.Fprintln(os.Stderr, "save:", gen, err)
			os.Exit(3)
		}
		fmt.Fprintln(out, gen)
		_ = out.Flush()
		next++
	}
}

func TestCrashAtomicity(t *testing.T) {
	if testing.Short() {
		t.Skip("re-execs the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Now()

	// At least 5 kills; more while the budget allows (the whole test stays
	// well under 10 s, also with -race).
	var last uint64 // newest generation any child reported as committed
	unreported := 0 // kills that landed after a commit, before the child reported it
	defer func() { t.Logf("%d kills landed between a commit and its report", unreported) }()
	for kill := 0; kill < 5 || (kill < 15 && time.Since(start) < 3*time.Second); kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		// Kill after a random number of committed generations (1..8), read
		// from the pipe: the child is then somewhere inside the next Save.
		wantLines := 1 + rng.IntN(8)
		sc := bufio.NewScanner(stdout)
		for n := 0; n < wantLines && sc.Scan(); n++ {
			g, err := strconv.ParseUint(sc.Text(), 10, 64)
			require.NoError(t, err, "child printed %q", sc.Text())
			last = g
		}
		// Sub-generation jitter so the kill also lands inside bbolt's commit
		// (page writes, fsyncs, meta page), not only at the start of a Save.
		// This randomizes where the child dies; nothing waits on it.
		for spin, until := time.Now(), time.Duration(rng.IntN(4000))*time.Microsecond; time.Since(spin) < until; {
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		// Drain what the child reported before it died.
		for sc.Scan() {
			if g, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
				last = g
			}
		}
		_ = cmd.Wait()
		require.NotZero(t, last, "child reported no generation; stderr: %s", stderr.String())

		db, err := Open(path, WithTimeout(5*time.Second))
		require.NoError(t, err)
		latest, err := db.Latest()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, latest, last, "a reported (committed) generation was lost")
		assert.LessOrEqual(t, latest, last+1)
		infos, err := db.List()
		require.NoError(t, err)
		for _, in := range infos {
			cp, err := db.Load(in.Gen)
			require.NoError(t, err, "generation %d after kill %d", in.Gen, kill)
			require.Equal(t, fmt.Sprint("meta ", in.Gen), string(cp.Meta))
			require.Equal(t, crashContent(in.Gen), cp.Records, "generation %d content", in.Gen)
		}
		require.NoError(t, db.Close())
		t.Logf("kill %d: after %d reported generations; latest %d, last reported %d", kill, wantLines, latest, last)
		if latest > last {
			unreported++
		}
		last = latest // the child may have committed one more than it reported
	}
}
