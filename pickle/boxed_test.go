package pickle_test

import (
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
