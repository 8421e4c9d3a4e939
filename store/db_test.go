package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Processes that open one new database at once race to create it; the
// losers open the winner's. A loser used to report the first stat's "no
// such file" although the file was there by then.
func TestOpenRacingCreatesOpenTheWinnersDatabase(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("race%d.db", round))
		const n = 6
		var start, done sync.WaitGroup
		start.Add(1)
		errs := make([]error, n)
		for i := range n {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				db, err := Open(path, WithTimeout(30*time.Second))
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			}()
		}
		start.Done()
		done.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "round %d, opener %d", round, i)
		}
	}
}
