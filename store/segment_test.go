package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is one segment entry as the tests model it.
type entry struct {
	typ        recType
	key, value string
}

func dataEntries(n, size int) []entry {
	out := make([]entry, n)
	for i := range out {
		out[i] = entry{recData, fmt.Sprintf("t/%06d", i), strings.Repeat(string(rune('a'+i%26)), size)}
	}
	return out
}

// readSegments reads every entry back, checking each segment's checksum
// and that the segment key is its first entry's key.
func readSegments(t *testing.T, segs []segment) []entry {
	t.Helper()
	var out []entry
	r := segReader{}
	for _, s := range segs {
		typ, payload, err := decodeValue(s.key, s.value)
		require.NoError(t, err)
		require.Equal(t, recSegment, typ)
		r.p, r.n = payload, 0
		for {
			typ, k, v, ok, err := r.next(s.key)
			require.NoError(t, err)
			if !ok {
				break
			}
			out = append(out, entry{typ, string(k), string(v)})
		}
	}
	return out
}

func TestSegmentRoundTrip(t *testing.T) {
	mixed := dataEntries(300, 500)
	mixed[100] = entry{recTombstone, mixed[100].key, ""}
	mixed[200].value = strings.Repeat("B", 3*segmentTarget) // a record bigger than a segment
	cases := []struct {
		name    string
		entries []entry
		segs    int
	}{
		{"none", nil, 0},
		{"one", []entry{{recData, "t/1", "v"}}, 1},
		{"empty value", []entry{{recData, "a", ""}, {recData, "b", "x"}}, 1},
		{"tombstones only", []entry{{recTombstone, "a", ""}, {recTombstone, "b", ""}}, 1},
		{"binary and longest keys", []entry{{recData, "\x00", "z"}, {recData, strings.Repeat("\xff", MaxKeySize), "m"}}, 1},
		{"exactly one segment's worth", dataEntries(1, segmentTarget-entryHeaderSize-8), 1},
		{"many segments", dataEntries(2000, 100), 32}, // 115-byte entries: 63 fill a segment
		{"tombstone and a huge record", mixed, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newSegWriter(nil, 4*segmentTarget)
			var want genHeader
			for _, e := range tc.entries {
				require.NoError(t, w.add(e.typ, []byte(e.key), []byte(e.value)))
				if e.typ == recData {
					want.nrec++
					want.recBytes += uint64(len(e.key) + len(e.value))
				} else {
					want.ndel++
					want.delBytes += uint64(len(e.key))
				}
			}
			segs := w.segments(nil)
			if tc.segs > 0 || len(tc.entries) == 0 {
				assert.Equal(t, tc.segs, len(segs), "segments")
			}
			assert.Equal(t, want, w.h, "counts")
			got := readSegments(t, segs)
			if len(tc.entries) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tc.entries, got)
			}
			// Every segment but the last reached the target, and only its last entry took it there.
			for i, s := range segs[:max(len(segs)-1, 0)] {
				payload := len(s.value) - valueHeaderSize
				assert.GreaterOrEqual(t, payload, segmentTarget, "segment %d sealed early", i)
				r := segReader{p: s.value[valueHeaderSize:]}
				last := 0
				for {
					_, k, v, ok, err := r.next(s.key)
					require.NoError(t, err)
					if !ok {
						break
					}
					last = entryHeaderSize + len(k) + len(v)
				}
				assert.Less(t, payload-last, segmentTarget, "segment %d sealed late", i)
			}
		})
	}
}

func TestSegWriterRejects(t *testing.T) {
	cases := []struct {
		name  string
		first string
		key   string
		value int
		want  string
	}{
		{"duplicate", "b", "b", 1, `duplicate record key "b"`},
		{"descending", "b", "a", 1, `key "a" comes after "b"`},
		{"empty key", "", "", 1, "empty key"},
		{"long key", "", strings.Repeat("k", MaxKeySize+1), 1, "keys are limited to 1024 bytes"},
		{"big value", "", "k", 65, `record "k": value is 65 bytes, over the 64-byte limit`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newSegWriter(nil, 64)
			if tc.first != "" {
				require.NoError(t, w.add(recData, []byte(tc.first), nil))
			}
			err := w.add(recData, []byte(tc.key), make([]byte, tc.value))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSegReaderRejects(t *testing.T) {
	good := segmentPayload(t, "t/1", "a", "t/2", "bb")
	edit := func(fn func(p []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	entry := func(typ byte, key string, vlen uint32, rest string) []byte {
		b := []byte{typ, byte(len(key) >> 8), byte(len(key)), 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[3:], vlen)
		return append(append(b, key...), rest...)
	}
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "empty segment"},
		{"short header", good[:entryHeaderSize-1], "shorter than an entry header"},
		{"trailing bytes", append(bytes.Clone(good), 1, 0), "shorter than an entry header"},
		{"unknown type", edit(func(p []byte) []byte { p[0] = 9; return p }), "unknown entry type 9"},
		{"zero key length", entry(byte(recData), "", 0, ""), "key length 0 is outside"},
		{"long key", entry(byte(recData), strings.Repeat("k", MaxKeySize+1), 0, ""), "key length 1025 is outside"},
		{"value past the end", entry(byte(recData), "t/1", 1<<31, "x"), "run past the segment's end"},
		{"tombstone with a value", entry(byte(recTombstone), "t/1", 1, "x"), "tombstone with a 1-byte value"},
		{"first key differs", segmentPayload(t, "t/0", "a"), `first entry's key "t/0" differs`},
		{"descending", append(entry(byte(recData), "t/1", 0, ""), entry(byte(recData), "t/0", 0, "")...), `key "t/0" does not come after "t/1"`},
		{"repeated", append(entry(byte(recData), "t/1", 0, ""), entry(byte(recData), "t/1", 0, "")...), `key "t/1" does not come after "t/1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := segReader{p: tc.payload}
			var err error
			for ok := true; ok && err == nil; {
				_, _, _, ok, err = r.next([]byte("t/1"))
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
