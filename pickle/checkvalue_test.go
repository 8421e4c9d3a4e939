package pickle_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

type customErr struct{ Code int }

func (e customErr) Error() string { return fmt.Sprintf("code %d", e.Code) }

// TestCheckValueAgreesWithTheEncoder: CheckValue accepts exactly what a
// snapshot can hold, so a send it lets through never fails a checkpoint.
func TestCheckValueAgreesWithTheEncoder(t *testing.T) {
	r := registry(t)
	for _, v := range []any{
		nil, 1, int64(2), "s", 2.5, true, uint8(3), float32(1), []byte("b"), []string{"a"},
		map[string]int{"a": 1}, time.Second, time.Unix(1, 0), tasklet.ID(4), channel.ID(5),
		Point{1, 2}, &Point{3, 4},
		channel.Bomb{Err: errors.New("plain")}, channel.Bomb{Err: customErr{7}}, channel.Bomb{Err: tasklet.ErrKilled},
	} {
		require.NoError(t, r.CheckValue(v), "%T", v)
		_, err := r.AppendValue(nil, v)
		assert.NoError(t, err, "%T: what CheckValue accepts, the encoder writes", v)
	}
	for _, v := range []any{unregistered{1}, &unregistered{2}, []Point{{1, 2}}, map[string]any{}, customErr{1}} {
		err := r.CheckValue(v)
		require.ErrorIs(t, err, pickle.ErrUnregistered, "%T", v)
		assert.Contains(t, err.Error(), fmt.Sprintf("Go type %T", v), "the error names the Go type")
		assert.Contains(t, err.Error(), "pickle.RegisterValue[", "and how to register it")
		_, encErr := r.AppendValue(nil, v)
		assert.ErrorIs(t, encErr, pickle.ErrUnregistered, "%T: what CheckValue refuses, the encoder refuses", v)
	}
	err := r.CheckValue(&unregistered{})
	assert.Contains(t, err.Error(), `pickle.RegisterValue[pickle_test.unregistered](reg, "name")`, "a pointer's advice registers the type it points to")
}

// An error sent with SendErr keeps its message through a round trip
// whatever its type, and its identity when registered.
func TestSentErrorsKeepTheirMessage(t *testing.T) {
	r := registry(t)
	b, err := r.AppendValue(nil, channel.Bomb{Err: customErr{7}})
	require.NoError(t, err)
	v, err := r.LoadValue(b)
	require.NoError(t, err)
	bomb, ok := v.(channel.Bomb)
	require.True(t, ok)
	assert.EqualError(t, bomb.Err, "code 7")
}
