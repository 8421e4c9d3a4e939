package pickle

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
)

// fullLoad decodes a value on the full path, bypassing the short one.
func fullLoad(r *Registry, b []byte) (any, error) {
	var v any
	err := r.decode(b, "value", func(d *msgpack.Decoder) error {
		var err error
		v, err = r.decodeValue(d)
		return err
	})
	return v, err
}

// fullAppend encodes a value on the full path.
func fullAppend(r *Registry, v any) ([]byte, error) {
	return r.encode(nil, func(e *msgpack.Encoder) error { return r.encodeValue(e, v) })
}

func TestValueExportRoundTrip(t *testing.T) {
	r := NewRegistry()
	values := []any{nil, 0, 1, -1, 127, 128, -32, -33, 255, 256, -129, 65535, 65536, -32769, math.MaxInt32, math.MinInt32,
		math.MaxInt64, math.MinInt64, int64(0), int64(-1 << 40), true, false, "text", 2.5, []int{1, 2},
		channel.Bomb{Err: channel.ErrClosed}}
	for _, v := range values {
		b, err := r.AppendValue(nil, v)
		require.NoError(t, err, "%#v", v)
		got, err := r.LoadValue(b)
		require.NoError(t, err, "%#v", v)
		assert.Equal(t, v, got, "%#v", v)

		slow, err := fullAppend(r, v)
		require.NoError(t, err)
		got, err = r.LoadValue(slow)
		require.NoError(t, err)
		assert.Equal(t, v, got, "the short path reads what the full path writes: %#v", v)
		got, err = fullLoad(r, b)
		require.NoError(t, err)
		assert.Equal(t, v, got, "the full path reads what the short path writes: %#v", v)
	}
	for _, err := range []error{nil, channel.ErrClosed} {
		b, e := r.AppendError(nil, err)
		require.NoError(t, e)
		got, e := r.LoadError(b)
		require.NoError(t, e)
		assert.Equal(t, err, got)
	}
	_, err := r.AppendValue(nil, struct{ X int }{1})
	assert.ErrorIs(t, err, ErrUnregistered)
	_, err = r.LoadValue([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	assert.ErrorIs(t, err, ErrMalformed)
}

// FuzzLoadValue checks that the short path never disagrees with the full
// one: whatever it accepts, the full path decodes to the same value.
func FuzzLoadValue(f *testing.F) {
	r := NewRegistry()
	for _, v := range []any{nil, 7, -70000, int64(1 << 50), true, "s", 1.5} {
		b, err := r.AppendValue(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"\x92\xa3int\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", "\x92\xa3int", "\x92\xa3int\x01\x02",
		"\x92\xa3int\xc0", "\x92\xa4bool\x01", "\x92\xa5int64\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := loadScalar(b)
		full, err := fullLoad(r, b)
		if ok {
			if err != nil {
				t.Fatalf("short path took %x as %#v, full path refused it: %v", b, v, err)
			}
			if fmt.Sprintf("%#v", v) != fmt.Sprintf("%#v", full) {
				t.Fatalf("short path read %x as %#v, full path as %#v", b, v, full)
			}
		}
		got, lerr := r.LoadValue(b)
		// %#v, not ==: NaN is a value too, and it is not equal to itself.
		if (lerr == nil) != (err == nil) || (err == nil && fmt.Sprintf("%#v", full) != fmt.Sprintf("%#v", got)) {
			t.Fatalf("LoadValue(%x) = %#v, %v; full path %#v, %v", b, got, lerr, full, err)
		}
	})
}
