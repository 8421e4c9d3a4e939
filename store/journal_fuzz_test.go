package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// journalSeeds are (key, value) pairs of the effect journal: good entries
// and damaged ones.
func journalSeeds(t testing.TB) (seeds [][2][]byte) {
	reg := pickle.NewRegistry()
	key := seqKey(12)
	enc := func(res scheduler.EffectResult) []byte {
		v, err := encodeJournal(reg, scheduler.EffectKey{Tasklet: 7, Step: 3, Case: 1}, res)
		require.NoError(t, err)
		return sealJournal(key, v)
	}
	good := enc(scheduler.EffectResult{Effect: "fetch", Resp: "page body"})
	failed := enc(scheduler.EffectResult{Effect: "fetch", Err: "connection refused"})
	wrapped := enc(scheduler.EffectResult{Effect: "fetch", Err: "get: channel closed", Cause: fmt.Errorf("get: %w", channel.ErrClosed)})
	num := enc(scheduler.EffectResult{Effect: "count", Resp: 42})
	empty := enc(scheduler.EffectResult{Effect: "noop"})
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0x01
	longName := bytes.Clone(good)
	longName[25] = 0xff // a length that runs past the end (the checksum is fixed by the fuzz body)
	return [][2][]byte{
		{key, good}, {key, failed}, {key, num}, {key, empty}, {key, wrapped},
		{key, flipped}, {key, longName}, {key, good[:3]}, {key, good[:len(good)-2]},
		{seqKey(13), good}, {nil, nil},
	}
}

// FuzzDecodeJournal decodes journal entries as read from a damaged or
// hostile database: as they are, and with their checksum made to match
// (so the fuzzer reaches the body). It must never panic, and what it
// accepts must be an entry that names its effect.
func FuzzDecodeJournal(f *testing.F) {
	for _, s := range journalSeeds(f) {
		f.Add(s[0], s[1])
	}
	reg := pickle.NewRegistry()
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if res, _, err := decodeJournal(reg, key, value); err == nil {
			require.NotEmpty(t, res.Effect)
			require.Equal(t, binary.BigEndian.Uint32(value), crc32.Update(crc32c(key), castagnoli, value[4:]))
		}
		if len(value) >= 4 {
			fixed := bytes.Clone(value)
			binary.BigEndian.PutUint32(fixed, crc32.Update(crc32c(key), castagnoli, fixed[4:]))
			if res, ek, err := decodeJournal(reg, key, fixed); err == nil {
				require.NotEmpty(t, res.Effect)
				again, err := encodeJournal(reg, ek, res)
				require.NoError(t, err, "an accepted entry encodes again")
				back, bk, err := decodeJournal(reg, key, sealJournal(key, again))
				require.NoError(t, err)
				require.Equal(t, res, back)
				require.Equal(t, ek, bk)
			}
		}
	})
}

func TestJournalEntryRoundTrips(t *testing.T) {
	reg := pickle.NewRegistry()
	ek := scheduler.EffectKey{Tasklet: 1, Step: 2, Case: 3}
	for _, res := range []scheduler.EffectResult{
		{Effect: "fetch", Resp: "body"}, {Effect: "fetch", Err: "no"}, {Effect: "n", Resp: int64(-5)},
		{Effect: "fetch", Err: "get: channel closed", Cause: fmt.Errorf("get: %w", channel.ErrClosed)},
	} {
		v, err := encodeJournal(reg, ek, res)
		require.NoError(t, err)
		v = sealJournal(seqKey(4), v)
		got, gotKey, err := decodeJournal(reg, seqKey(4), v)
		require.NoError(t, err)
		if res.Cause != nil {
			require.ErrorIs(t, got.Cause, channel.ErrClosed, "the error's chain comes back")
			require.Equal(t, res.Cause.Error(), got.Cause.Error())
			res.Cause = got.Cause
		}
		require.Equal(t, res, got)
		require.Equal(t, ek, gotKey)
		_, _, err = decodeJournal(reg, seqKey(5), v)
		require.ErrorContains(t, err, "checksum mismatch", "an entry moved to another key is refused")
	}
}

// Entries of format 1, written before errors kept their chain, still load:
// their errors as text, with no cause.
func TestJournalReadsFormatOneEntries(t *testing.T) {
	reg := pickle.NewRegistry()
	ek := scheduler.EffectKey{Tasklet: 7, Step: 3, Case: 1}
	v := appendEffectKey(append(make([]byte, 4), 1), ek)
	for _, s := range []string{"fetch", "connection refused"} {
		v = append(binary.AppendUvarint(v, uint64(len(s))), s...)
	}
	req, err := reg.AppendValue(nil, "http://x")
	require.NoError(t, err)
	v = append(binary.AppendUvarint(v, uint64(len(req))), req...)
	v, err = reg.AppendValue(v, nil)
	require.NoError(t, err)
	res, got, err := decodeJournal(reg, seqKey(9), sealJournal(seqKey(9), v))
	require.NoError(t, err)
	require.Equal(t, scheduler.EffectResult{Effect: "fetch", Err: "connection refused", Req: "http://x"}, res)
	require.Equal(t, ek, got)
}

// TestWriteJournalFuzzSeeds regenerates testdata/fuzz/FuzzDecodeJournal:
// STORE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteJournalFuzzSeeds
func TestWriteJournalFuzzSeeds(t *testing.T) {
	if os.Getenv("STORE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set STORE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzDecodeJournal")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeJournal")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, s := range journalSeeds(t) {
		b := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", s[0], s[1])
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), b, 0o644))
	}
}
