package pickle_test

// The promises of the decoders (fuzz_test.go), as unit tests over the seeds:
// hostile inputs are rejected cheaply, the valid seeds load, the corpus is
// committed, and corrupt records fail with clear errors.

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// ---- the promises, as unit tests over the seeds ----

// decoders are every way to read bytes; each must refuse what is not its own.
func decoders(reg *pickle.Registry) map[string]func([]byte) error {
	return map[string]func([]byte) error{
		"LoadTasklet": func(b []byte) error { _, err := reg.LoadTasklet(b); return err },
		"Inspect":     func(b []byte) error { _, err := reg.Inspect(b); return err },
		"LoadChannel": func(b []byte) error { _, err := reg.LoadChannel(b); return err },
		"LoadHeader":  func(b []byte) error { _, err := reg.LoadHeader(b); return err },
		"LoadWorld":   func(b []byte) error { _, err := reg.LoadWorld(b); return err },
	}
}

// allocated returns the bytes fn allocated (the test runs alone: no
// parallel test runs beside a sequential one).
func allocated(fn func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fn()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// allocBound is what decoding len bytes may allocate: a small multiple of
// the input (bytes.Reader, decoders, the decoded values) plus slack for
// pools and first-use initialization.
func allocBound(n int) uint64 { return 64*uint64(n) + 1<<20 }

// TestHostileSeedsAreRejectedCheaply: every hostile seed of every target is
// an ErrMalformed from every decoder, found before msgpack allocates what
// the seed claims.
func TestHostileSeedsAreRejectedCheaply(t *testing.T) {
	reg := fuzzRegistry()
	decs := decoders(reg)
	for _, target := range targets {
		hostile, _ := hostileFor(target.bases(true))
		require.NotEmpty(t, hostile)
		for _, s := range hostile {
			for name, dec := range decs {
				var err error
				n := allocated(func() { err = dec(s.b) })
				if !assert.ErrorIs(t, err, pickle.ErrMalformed, "%s %s on %s", target.name, s.name, name) {
					continue
				}
				assert.LessOrEqual(t, n, allocBound(len(s.b)), "%s %s: %s allocated %d bytes for %d", target.name, s.name, name, n, len(s.b))
			}
		}
	}
}

// TestSeedRecordsLoad: the valid seeds load (so the fuzz targets' round
// trip runs on them) within the allocation bound, and the hand-made world
// restores.
func TestSeedRecordsLoad(t *testing.T) {
	reg := fuzzRegistry()
	decs := decoders(reg)
	for _, tc := range []struct {
		target string
		dec    string
	}{{"FuzzLoadTasklet", "LoadTasklet"}, {"FuzzLoadTasklet", "Inspect"}, {"FuzzLoadChannel", "LoadChannel"}, {"FuzzLoadWorld", "LoadHeader"}} {
		i := slices.IndexFunc(targets, func(x fuzzTarget) bool { return x.name == tc.target })
		for j, b := range targets[i].bases(true) {
			if tc.dec == "LoadHeader" && j%2 == 0 {
				continue // the world blobs, checked below
			}
			var err error
			n := allocated(func() { err = decs[tc.dec](b) })
			assert.NoError(t, err, "%s seed %d", tc.dec, j)
			assert.LessOrEqual(t, n, allocBound(len(b)), "%s seed %d allocated %d bytes for %d", tc.dec, j, n, len(b))
		}
	}
	for i, b := range validWorlds(true) {
		if i%2 == 0 {
			w, err := reg.LoadWorld(b)
			require.NoError(t, err, "world seed %d", i)
			_, err = scheduler.Restore(w)
			assert.NoError(t, err, "world seed %d restores", i)
		}
	}
	rec, err := reg.LoadTasklet(guardV1Record())
	require.NoError(t, err)
	assert.Equal(t, &GuardV2{Health: 70}, rec.Behavior, "the version 1 seed goes through the upgrade")
}

// corpusFile is the Go fuzz corpus encoding of one []byte argument.
func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

// TestFuzzCorpusIsCommitted checks that the hostile seeds made from the
// hand-made records are committed, byte for byte, under testdata/fuzz, so
// `go test` runs them even without the code that makes them.
func TestFuzzCorpusIsCommitted(t *testing.T) {
	for _, target := range targets {
		_, committed := hostileFor(target.bases(false))
		require.NotEmpty(t, committed)
		dir := filepath.Join("testdata", "fuzz", target.name)
		if *updateCorpus {
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for _, s := range committed {
			path := filepath.Join(dir, "hostile_"+s.name)
			if *updateCorpus {
				require.NoError(t, os.WriteFile(path, corpusFile(s.b), 0o644))
				continue
			}
			got, err := os.ReadFile(path)
			if assert.NoError(t, err, "run: go test ./pickle -run TestFuzzCorpusIsCommitted -update-fuzz-corpus") {
				assert.Equal(t, string(corpusFile(s.b)), string(got), "%s is stale: the record format changed; rerun with -update-fuzz-corpus", path)
			}
		}
	}
}

// ---- corrupt records: clear errors ----

func TestCorruptRecordsAreErrCorrupt(t *testing.T) {
	reg := fuzzRegistry()
	ts := handTasklets()[1]
	rec, err := reg.DumpTasklet(&ts)
	require.NoError(t, err)
	_, top := objectSpans(rec)
	cs := handChannels()[1]
	crec, err := reg.DumpChannel(&cs)
	require.NoError(t, err)
	_, ctop := objectSpans(crec)
	hw := handWorld()
	hdr, err := reg.DumpHeader(hw)
	require.NoError(t, err)
	_, htop := objectSpans(hdr)

	str := []byte{0xa1, 'x'}
	for _, tc := range []struct {
		name string
		b    []byte
		load string
		want error
		says string
	}{
		{"tasklet ID is a string", replaced(rec, top[2], str), "LoadTasklet", pickle.ErrCorrupt, "unsigned integer"},
		{"tasklet flags too big", replaced(rec, top[6], []byte{0xcd, 0x01, 0x00}), "LoadTasklet", pickle.ErrCorrupt, "flags 256"},
		{"tasklet wait too big", replaced(rec, top[8], []byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}), "LoadTasklet", pickle.ErrCorrupt, "wait 4294967296"},
		{"tasklet state dead", replaced(rec, top[5], []byte{0x05}), "LoadTasklet", pickle.ErrCorrupt, "state 5"},
		{"tasklet value not a pair", replaced(rec, top[11], []byte{0x01}), "LoadTasklet", pickle.ErrCorrupt, "[type, payload]"},
		{"tasklet behavior is a string", replaced(rec, top[14], str), "LoadTasklet", pickle.ErrCorrupt, "tasklet t2"},
		{"tasklet of format 2", replaced(rec, top[1], []byte{0x02}), "LoadTasklet", pickle.ErrFormat, "version 2"},
		{"channel record read as tasklet", crec, "LoadTasklet", pickle.ErrCorrupt, "has 10 fields, want 15"},
		{"channel capacity is a string", replaced(crec, ctop[3], str), "LoadChannel", pickle.ErrCorrupt, "channel record"},
		{"channel waiter short", replaced(crec, ctop[9], []byte{0x91, 0x91, 0x01}), "LoadChannel", pickle.ErrCorrupt, "waiter"},
		{"header run queue holds a string", replaced(hdr, htop[10], []byte{0x91, 0xa1, 0x90}), "LoadHeader", pickle.ErrCorrupt, "run queue"},
		{"header timer holds a string", replaced(hdr, htop[11], []byte{0x91, 0x94, 0xa1, 0x90, 0x00, 0x00, 0x00}), "LoadHeader", pickle.ErrCorrupt, "timer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, pickle.ScanAll(tc.b, pickle.Limits{}), "the corruption keeps the msgpack well formed")
			err := decoders(reg)[tc.load](tc.b)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

// TestRecordUnderAnotherKeyIsCorrupt: a record stored under the key of
// another tasklet or channel (a swapped or misfiled record) is refused,
// naming both IDs, instead of restoring a world that is silently wrong.
func TestRecordUnderAnotherKeyIsCorrupt(t *testing.T) {
	reg := fuzzRegistry()
	meta, recs, err := reg.EncodeWorld(handWorld())
	require.NoError(t, err)
	_, err = reg.DecodeWorld(meta, recs)
	require.NoError(t, err)
	for i, want := range []string{"key t1 holds tasklet t2", "key ch1 holds channel ch2"} {
		bad := slices.Clone(recs)
		j := slices.IndexFunc(bad, func(r pickle.Record) bool { return r.Key[0] == "tc"[i] })
		bad[j].Value, bad[j+1].Value = bad[j+1].Value, bad[j].Value
		_, err = reg.DecodeWorld(meta, bad)
		require.ErrorIs(t, err, pickle.ErrCorrupt)
		assert.Contains(t, err.Error(), want)
	}
}

// TestNestingWithinTheLimitFailsCleanly: nesting just within Scan's depth
// limit passes Scan, so msgpack decodes it, recursing once a level. Put in
// place of any top-level field of every record kind, every decoder returns
// within the allocation bound, without a crash: an error where the field
// has a type, the value itself where it holds anything (Inspect shows a
// behavior's fields as they were written).
func TestNestingWithinTheLimitFailsCleanly(t *testing.T) {
	reg := fuzzRegistry()
	decs := decoders(reg)
	deep := nested(pickle.DefaultMaxDepth - 8) // the record's own levels around it
	for _, target := range targets {
		base := target.bases(false)[0]
		_, top := objectSpans(base)
		for i, s := range top {
			b := replaced(base, s, deep)
			_, err := pickle.Scan(b, pickle.Limits{})
			require.NoError(t, err, "%s field %d: within the limit, so Scan lets it through", target.name, i)
			for name, dec := range decs {
				var err error
				n := allocated(func() { err = dec(b) })
				if name != "Inspect" {
					assert.Error(t, err, "%s field %d on %s: a typed field does not take the nested arrays", target.name, i, name)
				}
				assert.LessOrEqual(t, n, allocBound(len(b)), "%s field %d: %s allocated %d bytes for %d", target.name, i, name, n, len(b))
			}
		}
	}
}
