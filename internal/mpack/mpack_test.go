package mpack

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// encoded is what msgpack's own Encoder writes, with the settings pickle
// uses: the reference every Append function must match byte for byte.
func encoded(t *testing.T, fn func(e *msgpack.Encoder) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(true)
	require.NoError(t, fn(e))
	return buf.Bytes()
}

func TestMatchesMsgpack(t *testing.T) {
	ints := []int64{0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, v := range ints {
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeInt(v) }), AppendInt(nil, v), "int %d", v)
		if v >= 0 {
			assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeUint(uint64(v)) }), AppendUint(nil, uint64(v)), "uint %d", v)
		}
	}
	assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeUint(math.MaxUint64) }), AppendUint(nil, math.MaxUint64))
	for _, n := range []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeString(s) }), AppendStr(nil, s), "str %d", n)
		p := []byte(s)
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeBytes(p) }), AppendBin(nil, p), "bin %d", n)
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeArrayLen(n) }), AppendArrayLen(nil, n), "array %d", n)
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeMapLen(n) }), AppendMapLen(nil, n), "map %d", n)
	}
	assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeNil() }), AppendNil(nil))
	for _, v := range []bool{true, false} {
		assert.Equal(t, encoded(t, func(e *msgpack.Encoder) error { return e.EncodeBool(v) }), AppendBool(nil, v))
	}
}
