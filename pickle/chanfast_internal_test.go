package pickle

// The idle-channel fast path (chanfast.go) must read exactly what the
// msgpack decoder reads, or leave the record to it: checked on a table of
// channel shapes, by a differential fuzz target, and its point (no
// allocation per idle channel of a world) by an allocation count.

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// chanShapes are channel states of every shape the encoder writes; idle
// says whether the fast path must take them.
var chanShapes = []struct {
	name string
	idle bool
	cs   scheduler.ChannelState
}{
	{"empty", true, scheduler.ChannelState{ID: 1}},
	{"one receiver", true, scheduler.ChannelState{ID: 1<<48 | 7, Receivers: []scheduler.WaiterState{{Tasklet: 9, Case: -1}}}},
	{"select receivers", true, scheduler.ChannelState{ID: 2, Preference: 1, ScheduleAll: true,
		Receivers: []scheduler.WaiterState{{Tasklet: 3, Case: 2}, {Tasklet: 1 << 40, Case: 0}}}},
	{"closed buffered capacity", true, scheduler.ChannelState{ID: 3, Cap: 1 << 31, Preference: -1, Closed: true}},
	{"blocked senders without values", true, scheduler.ChannelState{ID: 4, Preference: 0,
		Senders: []scheduler.WaiterState{{Tasklet: 5, Case: -1}, {Tasklet: 6, Case: 1}}}},
	{"buffered values", false, scheduler.ChannelState{ID: 5, Cap: 4, Buffer: []any{1, "two"}}},
	{"sender with a value", false, scheduler.ChannelState{ID: 6, Senders: []scheduler.WaiterState{{Tasklet: 5, Case: -1, Value: 42}}}},
	{"posted value", false, scheduler.ChannelState{ID: 7, Senders: []scheduler.WaiterState{{Value: "from outside"}}}},
	{"remote waiter", false, scheduler.ChannelState{ID: 8,
		Receivers: []scheduler.WaiterState{{Tasklet: 2<<48 | 1, Case: -1, Remote: true, Node: 2, Seq: 77}}}},
}

// viaDecoder reads a channel record the way it was read before the fast path.
func viaDecoder(r *Registry, b []byte) (*scheduler.ChannelState, error) {
	cs := new(scheduler.ChannelState)
	err := r.decode(b, "channel record", func(d *msgpack.Decoder) error { return r.decodeChannel(d, cs, r.decodeValue) })
	return cs, err
}

func TestIdleChannelFastPathReadsWhatTheDecoderReads(t *testing.T) {
	r := NewRegistry()
	for _, tc := range chanShapes {
		t.Run(tc.name, func(t *testing.T) {
			b, err := r.DumpChannel(&tc.cs)
			require.NoError(t, err)
			var fast scheduler.ChannelState
			var slab waiterSlab
			assert.Equal(t, tc.idle, idleChannel(b, &fast, &slab), "fast path taken")
			want, err := viaDecoder(r, b)
			require.NoError(t, err)
			got, err := r.LoadChannel(b)
			require.NoError(t, err)
			assert.Equal(t, want, got, "LoadChannel")
			assert.Equal(t, tc.cs, *got, "round trip")
			if tc.idle {
				assert.Equal(t, *want, fast, "fast path")
			}
		})
	}
}

// A damaged idle record gets the decoder's own error, not a fast-path one.
func TestIdleChannelDamageGetsTheDecodersError(t *testing.T) {
	r := NewRegistry()
	b, err := r.DumpChannel(&chanShapes[1].cs)
	require.NoError(t, err)
	for cut := 1; cut < len(b); cut++ {
		_, want := viaDecoder(r, b[:cut])
		_, got := r.LoadChannel(b[:cut])
		require.Error(t, got, "cut at %d", cut)
		assert.Equal(t, want.Error(), got.Error(), "cut at %d", cut)
	}
	trailing := append(b[:len(b):len(b)], 0xc0)
	_, err = r.LoadChannel(trailing)
	assert.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMalformed), "trailing byte: %v", err)
}

// Decoding a world of idle inboxes allocates per world, not per channel.
func TestDecodeWorldIdleChannelsDoNotAllocateEach(t *testing.T) {
	const n = 2000
	r := NewRegistry()
	w := &scheduler.World{NextChannel: n + 1}
	for i := range n {
		w.Channels = append(w.Channels, scheduler.ChannelState{ID: channel.ID(i + 1),
			Receivers: []scheduler.WaiterState{{Tasklet: tasklet.ID(i + 1), Case: -1}}})
	}
	meta, recs, err := r.EncodeWorld(w)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(5, func() {
		got, err := r.DecodeWorld(meta, recs)
		if err != nil || len(got.Channels) != n {
			panic(fmt.Sprintf("decoded %v channels: %v", got, err))
		}
	})
	assert.LessOrEqual(t, allocs/n, 0.05, "allocations per idle channel (%v for the world)", allocs)
}

// FuzzIdleChannel: whatever the fast path accepts, Scan and the decoder
// accept too, with the same state.
func FuzzIdleChannel(f *testing.F) {
	r := NewRegistry()
	for _, tc := range chanShapes {
		b, err := r.DumpChannel(&tc.cs)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast scheduler.ChannelState
		if !idleChannel(b, &fast, new(waiterSlab)) {
			return
		}
		require.NoError(t, ScanAll(b, Limits{}), "Scan refuses what the fast path took (it runs first)")
		want, err := viaDecoder(r, b)
		require.NoError(t, err, "the decoder refuses what the fast path took")
		assert.Equal(t, *want, fast)
	})
}
