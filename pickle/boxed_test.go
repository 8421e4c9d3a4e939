package pickle_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
)

type boxedHolder struct {
	V   pickle.Boxed[any]
	Err pickle.Boxed[error]
}

// Without the box an interface field comes back without its type (an int
// as int8, a struct as a map).
func TestBoxedKeepsDynamicTypes(t *testing.T) {
	for _, v := range []any{nil, 7, int64(7), "s", []int{1}, uint8(3)} {
		in := boxedHolder{V: pickle.Boxed[any]{V: v}, Err: pickle.Boxed[error]{V: channel.ErrClosed}}
		b, err := msgpack.Marshal(&in)
		require.NoError(t, err)
		var out boxedHolder
		require.NoError(t, msgpack.Unmarshal(b, &out))
		assert.Equal(t, v, out.V.V, "%T", v)
		assert.ErrorIs(t, out.Err.V, channel.ErrClosed, "a sentinel keeps its identity")
	}
	var out boxedHolder
	b, err := msgpack.Marshal(&boxedHolder{})
	require.NoError(t, err)
	require.NoError(t, msgpack.Unmarshal(b, &out))
	assert.Nil(t, out.V.V)
	assert.NoError(t, out.Err.V)
}

// FuzzBoxed decodes untrusted bytes into Boxed fields: no panic, and what
// decodes saves and decodes again to the same values.
func FuzzBoxed(f *testing.F) {
	for _, v := range []any{nil, 7, "s", []int{1, 2}, uint8(3)} {
		b, err := msgpack.Marshal(&boxedHolder{V: pickle.Boxed[any]{V: v}, Err: pickle.Boxed[error]{V: channel.ErrClosed}})
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<12 {
			return
		}
		var h boxedHolder
		if err := msgpack.Unmarshal(b, &h); err != nil {
			return
		}
		again, err := msgpack.Marshal(&h)
		require.NoError(t, err)
		var h2 boxedHolder
		require.NoError(t, msgpack.Unmarshal(again, &h2))
		assert.Equal(t, h.V.V, h2.V.V)
		assert.Equal(t, fmt.Sprint(h.Err.V), fmt.Sprint(h2.Err.V))
	})
}
