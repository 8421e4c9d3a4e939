package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var errNoFloats = errors.New("no floats here")

// noFloats is a value check that refuses float32 values.
func noFloats(v any) error {
	if _, ok := v.(float32); ok {
		return fmt.Errorf("value %v: %w", v, errNoFloats)
	}
	return nil
}

// TestValueCheckRefusesAtTheSend sends a refused value every way a tasklet
// can: the sending step must see the check's error, and the value must be
// nowhere (no receiver got it, no buffer holds it).
func TestValueCheckRefusesAtTheSend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int
		send     func(t *tasklet.T, ch channel.ID) (tasklet.Op, error)
	}{
		{"send, rendezvous", 0, func(t *tasklet.T, ch channel.ID) (tasklet.Op, error) { return t.Send(ch, float32(1)), nil }},
		{"send, buffered", 4, func(t *tasklet.T, ch channel.ID) (tasklet.Op, error) { return t.Send(ch, float32(1)), nil }},
		{"select send case", 0, func(t *tasklet.T, ch channel.ID) (tasklet.Op, error) {
			return t.Select(tasklet.RecvCase(ch), tasklet.SendCase(ch, float32(1))), nil
		}},
		{"select send case, buffered", 4, func(t *tasklet.T, ch channel.ID) (tasklet.Op, error) {
			return t.Select(tasklet.SendCase(ch, 5), tasklet.SendCase(ch, float32(1))), nil
		}},
		{"try send", 4, func(t *tasklet.T, ch channel.ID) (tasklet.Op, error) {
			_, err := t.TrySend(ch, float32(1))
			return t.Yield(), err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New(scheduler.WithValueCheck(noFloats))
			ch := s.NewChannel(tc.capacity)
			received := 0
			s.Spawn(fn(func(t *tasklet.T) tasklet.Op { // a receiver that would take the value
				if t.Err() == nil && t.Value() != nil {
					received++
				}
				return t.Recv(ch)
			}))
			var seen error
			s.Spawn(steps(
				func(tk *tasklet.T) tasklet.Op {
					op, err := tc.send(tk, ch)
					seen = err
					return op
				},
				func(tk *tasklet.T) tasklet.Op {
					if seen == nil {
						seen = tk.Err()
					}
					return tk.Exit()
				},
			))
			err := s.Run(context.Background())
			var dl *scheduler.DeadlockError
			require.ErrorAs(t, err, &dl, "only the receiver is left, waiting")
			require.ErrorIs(t, seen, errNoFloats, "the sending step gets the check's error")
			assert.Contains(t, seen.Error(), "sends on channel")
			assert.Zero(t, received, "nobody received the refused value")
			assert.Zero(t, s.Channel(ch).Len(), "no buffer holds it")
		})
	}
}

// TestValueCheckPassesWhatItAccepts: values and errors the check accepts
// go through, and an unset check changes nothing.
func TestValueCheckPassesWhatItAccepts(t *testing.T) {
	for _, check := range []func(any) error{nil, noFloats} {
		s := scheduler.New(scheduler.WithValueCheck(check))
		ch := s.NewChannel(0)
		var got []any
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			if errors.Is(t.Err(), channel.ErrClosed) {
				return t.Exit()
			}
			if v, err := t.Value(), t.Err(); err != nil {
				got = append(got, err.Error())
			} else if v != nil {
				got = append(got, v)
			}
			return t.Recv(ch)
		}))
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },
			func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, errors.New("boom")) },
			func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.SendCase(ch, "s")) },
			func(t *tasklet.T) tasklet.Op {
				if err := t.Close(ch); err != nil {
					return t.Fail(err)
				}
				return t.Exit()
			},
		))
		require.NoError(t, s.Run(context.Background()))
		assert.Equal(t, []any{1, "boom", "s"}, got, "check set: %v", check != nil)
	}
}

// The host's Send is checked like a tasklet's.
func TestValueCheckRefusesTheHostsSend(t *testing.T) {
	s := scheduler.New(scheduler.WithValueCheck(noFloats))
	ch := s.NewChannel(1)
	err := s.Send(context.Background(), ch, float32(1))
	require.ErrorIs(t, err, errNoFloats)
	assert.Zero(t, s.Channel(ch).Len(), "the refused value is not in the buffer")
	require.NoError(t, s.Send(context.Background(), ch, 2), "an accepted value goes through")
	assert.Equal(t, 1, s.Channel(ch).Len())
}
