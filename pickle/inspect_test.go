package pickle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// blockedSender runs the pipeline of build until the producer is blocked
// sending a Point, so the world holds a user value in a tasklet's cases
// and in a channel's sender queue.
func blockedSender(t *testing.T) *scheduler.Scheduler {
	s, _ := build(5)
	for range 200 {
		for _, in := range s.Tasklets() {
			if in.Op == "sending" {
				return s
			}
		}
		_, err := s.RunBudget(context.Background(), 1, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
	}
	t.Fatal("the producer never blocked sending")
	return nil
}

func TestInspectShowsUnregisteredValues(t *testing.T) {
	s := blockedSender(t)
	full := registry(t)
	bare := pickle.NewRegistry() // knows neither the kinds nor Point, like the CLI
	_, recs, err := full.EncodeWorld(s.World())
	require.NoError(t, err)
	opaque := 0
	for _, rec := range recs {
		tag, _, err := pickle.ParseKey(rec.Key)
		require.NoError(t, err)
		if tag == 't' {
			want, err := full.LoadTasklet(rec.Value)
			require.NoError(t, err)
			got, err := bare.InspectTasklet(rec.Value)
			require.NoError(t, err)
			assert.Equal(t, want.ID, got.ID)
			assert.Equal(t, want.Kind, got.Kind)
			assert.Equal(t, want.Version, got.Version)
			assert.Equal(t, want.State, got.State)
			assert.Equal(t, want.Steps, got.Steps)
			assert.Equal(t, want.Plain, got.Plain)
			assert.NotEmpty(t, got.Fields, "the behavior's fields")
			require.Len(t, got.Cases, len(want.Cases))
			for i, c := range want.Cases {
				assert.Equal(t, c.Dir, got.Cases[i].Dir)
				assert.Equal(t, c.Chan, got.Cases[i].Chan)
			}
			continue
		}
		want, err := full.LoadChannel(rec.Value)
		require.NoError(t, err)
		got, err := bare.InspectChannel(rec.Value)
		require.NoError(t, err)
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.Cap, got.Cap)
		require.Len(t, got.Senders, len(want.Senders))
		require.Len(t, got.Receivers, len(want.Receivers))
		for i, w := range want.Senders {
			assert.Equal(t, w.Tasklet, got.Senders[i].Tasklet)
			if p, ok := w.Value.(Point); ok {
				assert.Equal(t, pickle.Opaque{Type: "point", Value: map[string]any{"X": int8(p.X), "Y": int8(p.Y)}}, got.Senders[i].Value)
				opaque++
			}
		}
	}
	assert.Positive(t, opaque, "the blocked producer's Point waits in the channel's sender queue")
}

func TestInspectTaskletShowsUnregisteredValues(t *testing.T) {
	full := registry(t)
	bare := pickle.NewRegistry()
	ts := scheduler.TaskletState{ID: 3, Behavior: &Producer{Out: 9, I: 2, N: 5}, State: tasklet.Blocked, Steps: 4,
		Value: Point{5, 6}, // delivered, not yet seen
		Cases: []tasklet.Case{tasklet.SendCase(9, Point{7, 8}), tasklet.TimeoutCase(time.Second)}}
	b, err := full.DumpTasklet(&ts)
	require.NoError(t, err)
	_, err = bare.LoadTasklet(b)
	require.ErrorIs(t, err, pickle.ErrUnregistered, "loading for real needs the value types (and the kind)")

	got, err := bare.InspectTasklet(b)
	require.NoError(t, err)
	assert.Equal(t, "producer", got.Kind)
	assert.Equal(t, uint32(1), got.Version)
	assert.Equal(t, tasklet.Blocked, got.State)
	assert.Nil(t, got.Behavior)
	assert.Equal(t, map[string]any{"Out": int8(9), "I": int8(2), "N": int8(5)}, got.Fields)
	assert.Equal(t, pickle.Opaque{Type: "point", Value: map[string]any{"X": int8(5), "Y": int8(6)}}, got.Value)
	assert.Equal(t, []tasklet.Case{
		{Dir: tasklet.DirSend, Chan: 9, Value: pickle.Opaque{Type: "point", Value: map[string]any{"X": int8(7), "Y": int8(8)}}},
		{Dir: tasklet.DirTimeout, Timeout: time.Second},
	}, got.Cases)
}

func TestInspectChannelShowsUnregisteredValues(t *testing.T) {
	full := registry(t)
	bare := pickle.NewRegistry()
	cs := scheduler.ChannelState{ID: 7, Cap: 2, Closed: true, Buffer: []any{Point{1, 2}, "plain"},
		Senders: []scheduler.WaiterState{{Tasklet: 0, Case: -1, Value: Point{3, 4}}}} // a posted value
	b, err := full.DumpChannel(&cs)
	require.NoError(t, err)
	_, err = bare.LoadChannel(b)
	require.ErrorIs(t, err, pickle.ErrUnregistered, "LoadChannel alone cannot show this channel")

	got, err := bare.InspectChannel(b)
	require.NoError(t, err)
	want := cs
	want.Buffer = []any{pickle.Opaque{Type: "point", Value: map[string]any{"X": int8(1), "Y": int8(2)}}, "plain"}
	want.Senders = []scheduler.WaiterState{{Tasklet: 0, Case: -1, Value: pickle.Opaque{Type: "point", Value: map[string]any{"X": int8(3), "Y": int8(4)}}}}
	assert.Equal(t, &want, got)
}

func TestInspectAgreesWithLoadForRegisteredValues(t *testing.T) {
	s := blockedSender(t)
	r := registry(t)
	w := s.World()
	for i := range w.Channels {
		b, err := r.DumpChannel(&w.Channels[i])
		require.NoError(t, err)
		want, err := r.LoadChannel(b)
		require.NoError(t, err)
		got, err := r.InspectChannel(b)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for i := range w.Tasklets {
		b, err := r.DumpTasklet(&w.Tasklets[i])
		require.NoError(t, err)
		want, err := r.Inspect(b)
		require.NoError(t, err)
		got, err := r.InspectTasklet(b)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestInspectRejectsHostileInput(t *testing.T) {
	r := pickle.NewRegistry()
	for _, b := range [][]byte{
		{}, {0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xc6, 0xff, 0xff, 0xff, 0xff},
		{0x9f, 0xa1, 't', 0x01},             // a tasklet record cut short
		{0x9a, 0xa1, 'c', 0x01, 0x01, 0xce}, // a channel record cut short
	} {
		_, err := r.InspectTasklet(b)
		assert.Error(t, err, "% x", b)
		_, err = r.InspectChannel(b)
		assert.Error(t, err, "% x", b)
	}
}

func TestOpaqueString(t *testing.T) {
	for _, tc := range []struct {
		o    pickle.Opaque
		want string
	}{
		{pickle.Opaque{Type: "point", Value: map[string]any{"Y": 2, "X": 1}}, "point{X:1 Y:2}"},
		{pickle.Opaque{Type: "point", Value: map[string]any{}}, "point{}"},
		{pickle.Opaque{Type: "celsius", Value: 21.5}, "celsius(21.5)"},
	} {
		assert.Equal(t, tc.want, tc.o.String())
	}
}

// A tool that knows neither the program's kinds nor its value types can
// still show a channel's contents.
func ExampleRegistry_InspectChannel() {
	type Order struct {
		Item string
		Qty  int
	}
	app := pickle.NewRegistry()
	if err := pickle.RegisterValue[Order](app, "shop.order"); err != nil {
		panic(err)
	}
	b, err := app.DumpChannel(&scheduler.ChannelState{ID: 1, Cap: 4, Buffer: []any{Order{"tea", 2}}})
	if err != nil {
		panic(err)
	}

	tool := pickle.NewRegistry()
	_, err = tool.LoadChannel(b)
	fmt.Println(errors.Is(err, pickle.ErrUnregistered))
	cs, err := tool.InspectChannel(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(cs.ID, cs.Cap, cs.Buffer[0])
	// Output:
	// true
	// ch1 4 shop.order{Item:tea Qty:2}
}
