package pickle_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/pickle"
)

// scanHex decodes space-separated hex, e.g. "dd ff ff ff ff".
func scanHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// scanRepeat returns n copies of prefix followed by tail.
func scanRepeat(prefix []byte, n int, tail ...byte) []byte {
	b := bytes.Repeat(prefix, n)
	return append(b, tail...)
}

type scanInner struct {
	A int
	B []string
	C map[string]float64
}

type scanOuter struct {
	Name    string
	Inner   scanInner
	Inners  []scanInner
	Ptr     *scanInner
	When    time.Time
	Blob    []byte
	Any     interface{}
	Deep    [][][]int
	Flags   map[string]bool
	Uints   []uint64
	Nothing *int
}

// scanRecord is the shape of a typical ~200-byte record (BenchmarkScan).
type scanRecord struct {
	ID      uint64
	Kind    string
	Owner   string
	Created time.Time
	Score   float64
	Tags    []string
	Attrs   map[string]interface{}
	Payload []byte
}

func scanSampleRecord() scanRecord {
	return scanRecord{
		ID:      1234567890123,
		Kind:    "continuation",
		Owner:   "worker-17.eu-west.example",
		Created: time.Date(2024, 5, 17, 13, 4, 5, 123456789, time.UTC),
		Score:   0.875,
		Tags:    []string{"alpha", "beta", "gamma"},
		Attrs: map[string]interface{}{
			"retries": 3,
			"parent":  "job/42",
			"ok":      true,
			"pc":      []int{12, 40, 7},
		},
		Payload: bytes.Repeat([]byte{0xab}, 48),
	}
}

func scanSampleOuter() scanOuter {
	inner := scanInner{A: -7, B: []string{"x", "yy", strings.Repeat("z", 40)}, C: map[string]float64{"pi": math.Pi, "e": math.E}}
	return scanOuter{
		Name:   "outer",
		Inner:  inner,
		Inners: []scanInner{inner, {A: 1 << 40}, {}},
		Ptr:    &inner,
		When:   time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
		Blob:   bytes.Repeat([]byte{1, 2, 3}, 100),
		Any:    map[string]interface{}{"list": []interface{}{1, "two", 3.0, nil, false}},
		Deep:   [][][]int{{{1, 2}, {}}, {{3}}, {}},
		Flags:  map[string]bool{"a": true, "b": false},
		Uints:  []uint64{0, 1, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint64},
	}
}

type scanValid struct {
	name      string
	b         []byte
	wantFirst int // expected format byte, or -1 for "don't care"
}

// scanMarshalledValues returns msgpack.Marshal encodings of many Go values.
func scanMarshalledValues(t testing.TB) []scanValid {
	t.Helper()
	bigSlice := make([]int, 65536)
	for i := range bigSlice {
		bigSlice[i] = i % 300
	}
	bigMap := make(map[string]int, 65536)
	for i := 0; i < 65536; i++ {
		bigMap[fmt.Sprint(i)] = i
	}
	map16 := make(map[string]int, 16)
	for i := 0; i < 16; i++ {
		map16[fmt.Sprint(i)] = i
	}

	values := []struct {
		name      string
		v         interface{}
		wantFirst int
	}{
		{"nil", nil, 0xc0},
		{"true", true, 0xc3},
		{"false", false, 0xc2},
		{"positive fixint", 127, 0x7f},
		{"negative fixint", -32, 0xe0},
		{"int8", int8(-128), 0xd0},
		{"int16", int16(math.MinInt16), 0xd1},
		{"int32", int32(math.MinInt32), 0xd2},
		{"int64", int64(math.MinInt64), 0xd3},
		{"int compact", -33, 0xd0},
		{"uint8", uint8(math.MaxUint8), 0xcc},
		{"uint16", uint16(math.MaxUint16), 0xcd},
		{"uint32", uint32(math.MaxUint32), 0xce},
		{"uint64", uint64(math.MaxUint64), 0xcf},
		{"float32", float32(1.5), 0xca},
		{"float64", math.Pi, 0xcb},
		{"float64 NaN", math.NaN(), 0xcb},
		{"string 0", "", 0xa0},
		{"string 31", strings.Repeat("s", 31), 0xbf},
		{"string 32", strings.Repeat("s", 32), 0xd9},
		{"string 255", strings.Repeat("s", 255), 0xd9},
		{"string 256", strings.Repeat("s", 256), 0xda},
		{"string 65535", strings.Repeat("s", 65535), 0xda},
		{"string 65536", strings.Repeat("s", 65536), 0xdb},
		{"bytes 0", []byte{}, 0xc4},
		{"bytes 255", bytes.Repeat([]byte{7}, 255), 0xc4},
		{"bytes 256", bytes.Repeat([]byte{7}, 256), 0xc5},
		{"bytes 65536", bytes.Repeat([]byte{7}, 65536), 0xc6},
		{"empty slice", []int{}, 0x90},
		{"fixarray", []interface{}{1, "a", nil, 2.5}, 0x94},
		{"array16", make([]bool, 16), 0xdc},
		{"array32", bigSlice, 0xdd},
		{"empty map", map[string]int{}, 0x80},
		{"fixmap", map[string]string{"k": "v"}, 0x81},
		{"map16", map16, 0xde},
		{"map32", bigMap, 0xdf},
		{"nested slices", [][]interface{}{{1, []int{2, 3}}, {}, {[]string{"x"}}}, 0x93},
		{"nested maps", map[string]interface{}{"a": map[string]interface{}{"b": map[string]int{"c": 1}}, "d": []interface{}{map[string]int{}}}, 0x82},
		{"time 32-bit (fixext4)", time.Unix(1, 0).UTC(), 0xd6},
		{"time 64-bit (fixext8)", time.Unix(1, 5).UTC(), 0xd7},
		{"time 96-bit (ext8)", time.Unix(1<<35, 5).UTC(), 0xc7},
		{"time zero", time.Time{}, 0xc7},
		{"struct", scanSampleOuter(), -1},
		{"record", scanSampleRecord(), -1},
		{"slice of records", []scanRecord{scanSampleRecord(), {}, scanSampleRecord()}, 0x93},
		{"map of times", map[string]time.Time{"t": time.Unix(1<<35, 5), "u": time.Unix(7, 0)}, 0x82},
	}
	out := make([]scanValid, 0, len(values))
	for _, v := range values {
		b, err := msgpack.Marshal(v.v)
		require.NoError(t, err, v.name)
		out = append(out, scanValid{name: v.name, b: b, wantFirst: v.wantFirst})
	}
	return out
}

// scanEveryFormat returns a valid hand-built encoding starting with each
// format byte 0x00..0xff except 0xc1, covering the ext formats msgpack.Marshal
// only produces for registered types.
func scanEveryFormat() []scanValid {
	out := make([]scanValid, 0, 255)
	for i := 0; i < 256; i++ {
		c := byte(i)
		var b []byte
		switch {
		case c <= 0x7f || c >= 0xe0:
			b = []byte{c}
		case c <= 0x8f:
			b = []byte{c}
			for j := 0; j < int(c&0x0f); j++ {
				b = append(b, 0xa1, 'a'+byte(j), byte(j))
			}
		case c <= 0x9f:
			b = scanRepeat([]byte{0xc0}, int(c&0x0f))
			b = append([]byte{c}, b...)
		case c <= 0xbf:
			b = append([]byte{c}, bytes.Repeat([]byte{'x'}, int(c&0x1f))...)
		default:
			b = map[byte][]byte{
				0xc0: {0xc0},
				0xc2: {0xc2},
				0xc3: {0xc3},
				0xc4: {0xc4, 3, 1, 2, 3},
				0xc5: {0xc5, 0, 3, 1, 2, 3},
				0xc6: {0xc6, 0, 0, 0, 3, 1, 2, 3},
				0xc7: {0xc7, 3, 5, 1, 2, 3},
				0xc8: {0xc8, 0, 3, 5, 1, 2, 3},
				0xc9: {0xc9, 0, 0, 0, 3, 5, 1, 2, 3},
				0xca: {0xca, 0x3f, 0xc0, 0, 0},
				0xcb: {0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18},
				0xcc: {0xcc, 0xff},
				0xcd: {0xcd, 0xff, 0xff},
				0xce: {0xce, 0xff, 0xff, 0xff, 0xff},
				0xcf: {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
				0xd0: {0xd0, 0x80},
				0xd1: {0xd1, 0x80, 0},
				0xd2: {0xd2, 0x80, 0, 0, 0},
				0xd3: {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},
				0xd4: {0xd4, 5, 1},
				0xd5: {0xd5, 5, 1, 2},
				0xd6: {0xd6, 0xff, 0, 0, 0, 1},
				0xd7: {0xd7, 0xff, 0, 0, 0, 0x14, 0, 0, 0, 1},
				0xd8: append([]byte{0xd8, 5}, bytes.Repeat([]byte{9}, 16)...),
				0xd9: {0xd9, 3, 'a', 'b', 'c'},
				0xda: {0xda, 0, 3, 'a', 'b', 'c'},
				0xdb: {0xdb, 0, 0, 0, 3, 'a', 'b', 'c'},
				0xdc: {0xdc, 0, 2, 0xc0, 0x01},
				0xdd: {0xdd, 0, 0, 0, 2, 0xc0, 0x01},
				0xde: {0xde, 0, 1, 0xa1, 'k', 0x01},
				0xdf: {0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x01},
			}[c]
			if b == nil {
				continue // 0xc1
			}
		}
		out = append(out, scanValid{name: fmt.Sprintf("format 0x%02x", c), b: b, wantFirst: int(c)})
	}
	return out
}

func scanAllValid(t testing.TB) []scanValid {
	return append(scanMarshalledValues(t), scanEveryFormat()...)
}

func TestScanValid(t *testing.T) {
	for _, tc := range scanAllValid(t) {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEmpty(t, tc.b)
			if tc.wantFirst >= 0 {
				require.Equal(t, byte(tc.wantFirst), tc.b[0], "encoding starts with an unexpected format byte")
			}
			n, err := pickle.Scan(tc.b, pickle.Limits{})
			assert.NoError(t, err)
			assert.Equal(t, len(tc.b), n)
			assert.NoError(t, pickle.ScanAll(tc.b, pickle.Limits{}))
		})
	}
}

func TestScanEveryFormatCovered(t *testing.T) {
	seen := map[byte]bool{}
	for _, tc := range scanEveryFormat() {
		seen[tc.b[0]] = true
	}
	assert.Len(t, seen, 255)
	assert.False(t, seen[0xc1])
}

func TestScanConcatenated(t *testing.T) {
	vals := scanAllValid(t)
	for i, first := range vals {
		second := vals[(i+7)%len(vals)]
		t.Run(first.name+" + "+second.name, func(t *testing.T) {
			b := append(append([]byte{}, first.b...), second.b...)
			n, err := pickle.Scan(b, pickle.Limits{})
			assert.NoError(t, err)
			assert.Equal(t, len(first.b), n)

			err = pickle.ScanAll(b, pickle.Limits{})
			assert.ErrorIs(t, err, pickle.ErrMalformed)
			assert.ErrorContains(t, err, fmt.Sprintf("%d trailing bytes at offset %d", len(second.b), len(first.b)))
		})
	}
}

// TestScanTruncated checks that every proper prefix of a valid value is
// rejected (msgpack values are self-delimiting, so no prefix is complete).
func TestScanTruncated(t *testing.T) {
	for _, tc := range scanAllValid(t) {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < len(tc.b); i++ {
				if len(tc.b) > 4096 && i > 64 && i < len(tc.b)-64 {
					i = len(tc.b) - 64 // long values: just the first and last 64 cut points
				}
				n, err := pickle.Scan(tc.b[:i], pickle.Limits{})
				if !assert.ErrorIs(t, err, pickle.ErrMalformed, "prefix of %d bytes", i) {
					return
				}
				assert.Zero(t, n)
				assert.ErrorIs(t, pickle.ScanAll(tc.b[:i], pickle.Limits{}), pickle.ErrMalformed)
			}
		})
	}
}

func TestScanHostile(t *testing.T) {
	deep := scanRepeat([]byte{0x91}, 2_000_000, 0xc0)
	tests := []struct {
		name    string
		b       []byte
		lim     pickle.Limits
		wantErr string
	}{
		{"array32 of 4G items", scanHex(t, "dd ff ff ff ff"), pickle.Limits{},
			"pickle: malformed msgpack: array of 4294967295 items at offset 0 exceeds the 0 remaining bytes"},
		{"array32 of 256M items", scanHex(t, "dd 0f ff ff ff"), pickle.Limits{},
			"array of 268435455 items at offset 0 exceeds the 0 remaining bytes"},
		{"bin32 of 4GB", scanHex(t, "c6 ff ff ff ff"), pickle.Limits{},
			"bin of 4294967295 bytes at offset 0 exceeds the 0 remaining bytes"},
		{"map32 of 4G pairs", scanHex(t, "df ff ff ff ff"), pickle.Limits{},
			"map of 4294967295 pairs at offset 0 exceeds the 0 remaining bytes"},
		{"str32 of 4GB", scanHex(t, "db ff ff ff ff"), pickle.Limits{},
			"str of 4294967295 bytes at offset 0 exceeds the 0 remaining bytes"},
		{"ext32 of 4GB", scanHex(t, "c9 ff ff ff ff 01"), pickle.Limits{},
			"ext of 4294967295 bytes at offset 0 exceeds the 0 remaining bytes"},
		{"never used 0xc1", scanHex(t, "c1"), pickle.Limits{},
			"never-used format byte 0xc1 at offset 0"},
		{"never used 0xc1 nested", scanHex(t, "92 01 c1"), pickle.Limits{},
			"never-used format byte 0xc1 at offset 2"},
		{"empty input", nil, pickle.Limits{},
			"input ends at offset 0 with 1 more objects expected"},
		{"array missing items", scanHex(t, "93 01"), pickle.Limits{},
			"array of 3 items at offset 0 exceeds the 1 remaining bytes"},
		{"map missing value", scanHex(t, "82 a1 6b 01 a1 6c"), pickle.Limits{},
			"input ends at offset 6 with 1 more objects expected"},
		{"short uint16", scanHex(t, "cd 01"), pickle.Limits{},
			"uint16 header at offset 0 needs 3 bytes but only 2 remain"},
		{"short fixext16", scanHex(t, "91 d8 05 00"), pickle.Limits{},
			"fixext16 header at offset 1 needs 18 bytes but only 3 remain"},
		{"short str32 header", scanHex(t, "db ff ff"), pickle.Limits{},
			"str32 header at offset 0 needs 5 bytes but only 3 remain"},
		{"fixstr too long", scanHex(t, "a5 61 62"), pickle.Limits{},
			"str of 5 bytes at offset 0 exceeds the 2 remaining bytes"},
		{"str8 too long", scanHex(t, "91 d9 05 61 62"), pickle.Limits{},
			"str of 5 bytes at offset 1 exceeds the 2 remaining bytes"},
		{"ext8 too long", scanHex(t, "c7 04 01 61 62"), pickle.Limits{},
			"ext of 4 bytes at offset 0 exceeds the 2 remaining bytes"},
		{"array16 too long", append(scanHex(t, "dc ff ff"), make([]byte, 100)...), pickle.Limits{},
			"array of 65535 items at offset 0 exceeds the 100 remaining bytes"},
		{"map16 pairs exceed bytes", scanHex(t, "de 00 03 01 02 03 04 05"), pickle.Limits{},
			"map of 3 pairs at offset 0 exceeds the 5 remaining bytes"},
		{"inner array plus owed objects exceed bytes", scanHex(t, "92 dd 00 00 00 05 01 02 03 04 05"), pickle.Limits{},
			"array of 5 items at offset 1 plus 1 objects owed by enclosing containers exceed the 5 remaining bytes"},
		{"2M nested arrays", deep, pickle.Limits{},
			"array at offset 512 is nested 513 deep, over the limit of 512"},
		{"2M nested arrays, MaxDepth 10", deep, pickle.Limits{MaxDepth: 10},
			"array at offset 10 is nested 11 deep, over the limit of 10"},
		{"513 nested maps", scanRepeat([]byte{0x81, 0xa1, 'k'}, 513, 0xc0), pickle.Limits{},
			"map at offset 1536 is nested 513 deep, over the limit of 512"},
		{"MaxItems exceeded by array", scanHex(t, "93 01 02 03"), pickle.Limits{MaxItems: 3},
			"array of 3 items at offset 0 brings the value to 4 objects, over the limit of 3"},
		{"MaxItems exceeded by nested map", scanHex(t, "92 01 81 a1 6b 02"), pickle.Limits{MaxItems: 4},
			"map of 1 pairs at offset 2 brings the value to 5 objects, over the limit of 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			n, err := pickle.Scan(tc.b, tc.lim)
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.ErrorIs(t, err, pickle.ErrMalformed)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "pickle: malformed msgpack: "), err.Error())
			assert.Zero(t, n)
			assert.Less(t, elapsed, time.Second, "hostile input must be rejected quickly")
			assert.ErrorIs(t, pickle.ScanAll(tc.b, tc.lim), pickle.ErrMalformed)
		})
	}
}

func TestScanMaxItems(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		items int
	}{
		{"scalar", scanHex(t, "c0"), 1},
		{"str", scanHex(t, "a3 61 62 63"), 1},
		{"flat array", scanHex(t, "93 01 02 03"), 4},
		{"empty array", scanHex(t, "90"), 1},
		{"map", scanHex(t, "82 a1 61 01 a1 62 02"), 5},
		{"nested", scanHex(t, "92 91 90 81 a1 6b 93 01 02 03"), 9},
		{"inner array with owed sibling", scanHex(t, "92 93 01 02 03 01"), 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := pickle.Scan(tc.b, pickle.Limits{MaxItems: tc.items})
			assert.NoError(t, err)
			assert.Equal(t, len(tc.b), n)
			if tc.items > 1 {
				_, err = pickle.Scan(tc.b, pickle.Limits{MaxItems: tc.items - 1})
				assert.ErrorIs(t, err, pickle.ErrMalformed)
				assert.ErrorContains(t, err, fmt.Sprintf("over the limit of %d", tc.items-1))
			}
		})
	}
}

func TestScanDepthLimit(t *testing.T) {
	for _, limit := range []int{1, 2, 63, 64, 65, 100, 511, 512, 513, 1000} {
		lim := pickle.Limits{MaxDepth: limit}
		if limit == pickle.DefaultMaxDepth {
			lim = pickle.Limits{} // the default
		}
		tests := []struct {
			name string
			b    []byte
			ok   bool
		}{
			{"arrays at limit", scanRepeat([]byte{0x91}, limit, 0xc0), true},
			{"arrays over limit", scanRepeat([]byte{0x91}, limit+1, 0xc0), false},
			{"empty array at limit", scanRepeat([]byte{0x91}, limit-1, 0x90), true},
			{"empty array over limit", scanRepeat([]byte{0x91}, limit, 0x90), false},
			{"maps at limit", scanRepeat([]byte{0x81, 0xa1, 'k'}, limit, 0x01), true},
			{"maps over limit", scanRepeat([]byte{0x81, 0xa1, 'k'}, limit+1, 0x01), false},
			{"empty map over limit", scanRepeat([]byte{0x81, 0xa1, 'k'}, limit, 0x80), false},
			// [[[...[nil]...]], 1]: the stack must unwind before the last item.
			{"siblings after deepest", append(scanRepeat([]byte{0x92}, limit, 0xc0), bytes.Repeat([]byte{0x01}, limit)...), true},
			// [[[...[nil]...]], [[...[nil]...]]]: several levels close at once.
			{"two deepest branches", append(append([]byte{0x92}, scanRepeat([]byte{0x91}, limit-1, 0xc0)...), scanRepeat([]byte{0x91}, limit-1, 0xc0)...), true},
			{"two branches, second too deep", append(append([]byte{0x92}, scanRepeat([]byte{0x91}, limit-1, 0xc0)...), scanRepeat([]byte{0x91}, limit, 0xc0)...), false},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("limit %d/%s", limit, tc.name), func(t *testing.T) {
				n, err := pickle.Scan(tc.b, lim)
				if tc.ok {
					assert.NoError(t, err)
					assert.Equal(t, len(tc.b), n)
					return
				}
				assert.ErrorIs(t, err, pickle.ErrMalformed)
				assert.ErrorContains(t, err, fmt.Sprintf("nested %d deep, over the limit of %d", limit+1, limit))
			})
		}
	}
}

// TestScanHugeDepthAllowed shows that Scan does not recurse: with the limit
// raised it walks 2,000,000 nested arrays that would overflow the stack of a
// recursive decoder.
func TestScanHugeDepthAllowed(t *testing.T) {
	const depth = 2_000_000
	b := scanRepeat([]byte{0x91}, depth, 0xc0)
	n, err := pickle.Scan(b, pickle.Limits{MaxDepth: depth})
	require.NoError(t, err)
	assert.Equal(t, len(b), n)

	_, err = pickle.Scan(b, pickle.Limits{MaxDepth: depth - 1})
	assert.ErrorIs(t, err, pickle.ErrMalformed)
}

func TestScanZeroAllocs(t *testing.T) {
	b, err := msgpack.Marshal(scanSampleOuter())
	require.NoError(t, err)
	require.Greater(t, len(b), 500, "want a medium-sized input")

	for _, lim := range []pickle.Limits{{}, {MaxDepth: 8, MaxItems: 1000}} {
		var n int
		allocs := testing.AllocsPerRun(100, func() {
			n, err = pickle.Scan(b, lim)
		})
		require.NoError(t, err)
		assert.Equal(t, len(b), n)
		assert.Zero(t, allocs, "Scan allocated with limits %+v", lim)

		allocs = testing.AllocsPerRun(100, func() {
			err = pickle.ScanAll(b, lim)
		})
		require.NoError(t, err)
		assert.Zero(t, allocs, "ScanAll allocated with limits %+v", lim)
	}
}

// BenchmarkScan measures validating one typical ~200-byte record (a struct
// with ints, strings, a time.Time ext, a float, a string slice, a small map
// and a 48-byte blob, as written by msgpack.Marshal): one op is one Scan call
// over the whole record with default Limits.
func BenchmarkScan(b *testing.B) {
	rec, err := msgpack.Marshal(scanSampleRecord())
	require.NoError(b, err)
	n, err := pickle.Scan(rec, pickle.Limits{})
	require.NoError(b, err)
	require.Equal(b, len(rec), n)

	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := pickle.Scan(rec, pickle.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
