package pickle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// slot is an inventory slot: 256 bytes, and when empty an empty map (one
// byte), as every field is omitempty.
type slot struct {
	F0  int64 `msgpack:",omitempty"`
	F1  int64 `msgpack:",omitempty"`
	F2  int64 `msgpack:",omitempty"`
	F3  int64 `msgpack:",omitempty"`
	F4  int64 `msgpack:",omitempty"`
	F5  int64 `msgpack:",omitempty"`
	F6  int64 `msgpack:",omitempty"`
	F7  int64 `msgpack:",omitempty"`
	F8  int64 `msgpack:",omitempty"`
	F9  int64 `msgpack:",omitempty"`
	F10 int64 `msgpack:",omitempty"`
	F11 int64 `msgpack:",omitempty"`
	F12 int64 `msgpack:",omitempty"`
	F13 int64 `msgpack:",omitempty"`
	F14 int64 `msgpack:",omitempty"`
	F15 int64 `msgpack:",omitempty"`
	F16 int64 `msgpack:",omitempty"`
	F17 int64 `msgpack:",omitempty"`
	F18 int64 `msgpack:",omitempty"`
	F19 int64 `msgpack:",omitempty"`
	F20 int64 `msgpack:",omitempty"`
	F21 int64 `msgpack:",omitempty"`
	F22 int64 `msgpack:",omitempty"`
	F23 int64 `msgpack:",omitempty"`
	F24 int64 `msgpack:",omitempty"`
	F25 int64 `msgpack:",omitempty"`
	F26 int64 `msgpack:",omitempty"`
	F27 int64 `msgpack:",omitempty"`
	F28 int64 `msgpack:",omitempty"`
	F29 int64 `msgpack:",omitempty"`
	F30 int64 `msgpack:",omitempty"`
	F31 int64 `msgpack:",omitempty"`
}

type inventory struct {
	Slots []slot
}

func (i *inventory) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// A mostly empty grid of omitempty slots is written 256 times smaller than
// it decodes, past what every load allows (checkCost): it saved, and no
// load took it. It is refused where it is saved now, and what saves loads.
func TestAStateNoLoadWouldTakeIsNotSaved(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("inventory", 1, &inventory{}))
	require.NoError(t, pickle.RegisterValue[inventory](r, "inventory"))
	for _, n := range []int{3_000, 30_000} {
		ts := state(&inventory{Slots: make([]slot, n)})
		out, err := r.DumpTasklet(ts)
		if n == 30_000 {
			require.ErrorIs(t, err, pickle.ErrTooLarge, "%d empty slots", n)
			assert.ErrorContains(t, err, "tasklet t3 (kind inventory)")
			assert.ErrorContains(t, err, "every load would refuse it, so it is not saved")

			_, err = r.DumpChannel(&scheduler.ChannelState{ID: 1, Cap: 1, Buffer: []any{inventory{Slots: make([]slot, n)}}})
			require.ErrorIs(t, err, pickle.ErrTooLarge, "the same as a value sent")
			continue
		}
		require.NoError(t, err, "%d empty slots", n)
		rec, err := r.LoadTasklet(out)
		require.NoError(t, err)
		assert.Len(t, rec.Behavior.(*inventory).Slots, n)
	}
}
