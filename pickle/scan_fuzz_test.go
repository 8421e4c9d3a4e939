package pickle_test

import (
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/pickle"
)

// FuzzScan checks that Scan never panics, that whatever it accepts is a
// prefix of its input that msgpack can decode without panicking, and that
// its answers are consistent with ScanAll and with tighter limits.
// Hostile seeds are also committed under testdata/fuzz/FuzzScan so that
// plain `go test` runs them.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"\xdd\xff\xff\xff\xff",     // array32 of 4G items
		"\xdd\x0f\xff\xff\xff",     // array32 of 256M items
		"\xc6\xff\xff\xff\xff",     // bin32 of 4GB
		"\xdf\xff\xff\xff\xff",     // map32 of 4G pairs
		"\xdb\xff\xff\xff\xff",     // str32 of 4GB
		"\xc9\xff\xff\xff\xff\x01", // ext32 of 4GB
		"\xc1",                     // never used
		"",
		"\x92\xdd\x00\x00\x00\x05\x01\x02\x03\x04\x05", // owed objects exceed bytes
		"\x81\xc0\x91\x90",                 // non-string map key
		"\xd6\xff\x00\x00\x00\x01",         // timestamp 32
		"\xc7\x05\xff\x00\x00\x00\x00\x01", // timestamp with a bad length
		"\xd4\x05\x01",                     // unregistered fixext
	} {
		f.Add([]byte(s))
	}
	f.Add(scanRepeat([]byte{0x91}, 10_000, 0xc0))                   // 10k nested arrays
	f.Add(scanRepeat([]byte{0x81, 0xa1, 'k'}, 10_000, 0xc0))        // 10k nested maps
	f.Add(scanRepeat([]byte{0x91}, pickle.DefaultMaxDepth, 0xc0))   // depth at the limit
	f.Add(scanRepeat([]byte{0x91}, pickle.DefaultMaxDepth+1, 0xc0)) // one past it
	f.Add(scanRepeat([]byte{0x92}, 8, 0xc0, 0x01))                  // siblings missing
	for _, v := range []interface{}{
		nil, true, 42, -1, int64(-1 << 40), uint64(1 << 63), 3.5, float32(2.5),
		"hello", []byte{1, 2, 3}, []interface{}{1, "a", []int{2}},
		map[string]interface{}{"a": map[string]int{"b": 1}, "c": []interface{}{nil}},
		scanSampleRecord(),
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := pickle.Scan(b, pickle.Limits{})
		allErr := pickle.ScanAll(b, pickle.Limits{})
		if err != nil {
			if !errors.Is(err, pickle.ErrMalformed) {
				t.Fatalf("Scan error does not wrap ErrMalformed: %v", err)
			}
			if n != 0 {
				t.Fatalf("Scan returned n=%d with error %v", n, err)
			}
			if allErr == nil {
				t.Fatalf("ScanAll accepted what Scan rejected: %v", err)
			}
			if _, err := pickle.Scan(b, pickle.Limits{MaxDepth: 3, MaxItems: 16}); err == nil {
				t.Fatalf("tight limits accepted what the defaults rejected")
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("Scan returned n=%d for %d bytes", n, len(b))
		}
		if (allErr == nil) != (n == len(b)) {
			t.Fatalf("ScanAll=%v but Scan n=%d of %d", allErr, n, len(b))
		}
		if m, err := pickle.Scan(b[:n], pickle.Limits{}); err != nil || m != n {
			t.Fatalf("Scan(b[:%d]) = %d, %v", n, m, err)
		}
		// Anything accepted under tighter limits is accepted by the defaults.
		if m, err := pickle.Scan(b, pickle.Limits{MaxDepth: 3, MaxItems: 16}); err == nil && m != n {
			t.Fatalf("tight limits gave n=%d, defaults n=%d", m, n)
		}

		// The point of Scan: the accepted prefix is safe to hand to msgpack.
		// Decoding errors are fine; panics and fatal errors are not.
		var v interface{}
		_ = msgpack.Unmarshal(b[:n], &v)
	})
}
