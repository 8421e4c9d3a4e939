package cluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// journalEntrySeeds are (KV key, value) pairs of the cluster's journal:
// good entries, and damaged or misplaced ones.
func journalEntrySeeds(t testing.TB) [][2][]byte {
	reg := pickle.NewRegistry()
	key := scheduler.EffectKey{Tasklet: 1<<48 | 7, Step: 3, Case: 1}
	k := journalKey(key)
	enc := func(res scheduler.EffectResult) []byte {
		v, err := store.EncodeJournalEntry(reg, sealKey(k), key, res)
		require.NoError(t, err)
		return v
	}
	good := enc(scheduler.EffectResult{Effect: "fetch", Req: "http://x/1", Resp: "page body"})
	failed := enc(scheduler.EffectResult{Effect: "fetch", Req: "http://x/1", Err: "connection refused"})
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0x01
	return [][2][]byte{
		{[]byte(k), good}, {[]byte(k), failed}, {[]byte(k), flipped}, {[]byte(k), good[:len(good)/2]},
		{[]byte("281474976710663.4.1"), good}, // moved under another key
		{[]byte("1.2"), good}, {[]byte("01.2.3"), good}, {[]byte("0.2.3"), good}, {[]byte("1.2.99999999"), good},
		{[]byte("x.y.z"), nil}, {nil, nil},
	}
}

// FuzzJournalEntry decodes journal entries as read from the bucket (a
// damaged or hostile store): key and value. It must never panic; what it
// accepts is an entry that names its effect, whose key round-trips.
func FuzzJournalEntry(f *testing.F) {
	for _, s := range journalEntrySeeds(f) {
		f.Add(s[0], s[1])
	}
	reg := pickle.NewRegistry()
	f.Fuzz(func(t *testing.T, k, v []byte) {
		res, key, err := decodeJournalEntry(reg, string(k), v)
		if err != nil {
			return
		}
		require.NotEmpty(t, res.Effect)
		require.Equal(t, string(k), journalKey(key), "the key round-trips")
		again, err := store.EncodeJournalEntry(reg, sealKey(string(k)), key, res)
		require.NoError(t, err, "an accepted entry encodes again")
		back, bk, err := decodeJournalEntry(reg, string(k), again)
		require.NoError(t, err)
		require.Equal(t, res, back)
		require.Equal(t, key, bk)
	})
}

func TestJournalEntryRefusesWhatIsNotItsOwn(t *testing.T) {
	reg := pickle.NewRegistry()
	seeds := journalEntrySeeds(t)
	for i, s := range seeds {
		_, _, err := decodeJournalEntry(reg, string(s[0]), s[1])
		if i < 2 {
			require.NoError(t, err, "seed %d is good", i)
		} else {
			require.Error(t, err, "seed %d (%q) is refused", i, s[0])
		}
	}
}

// TestWriteJournalEntryFuzzSeeds regenerates testdata/fuzz/FuzzJournalEntry:
// CLUSTER_WRITE_FUZZ_SEEDS=1 go test -run TestWriteJournalEntryFuzzSeeds ./cluster/
func TestWriteJournalEntryFuzzSeeds(t *testing.T) {
	if os.Getenv("CLUSTER_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set CLUSTER_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzJournalEntry")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzJournalEntry")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, s := range journalEntrySeeds(t) {
		b := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", s[0], s[1])
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), b, 0o644))
	}
}
