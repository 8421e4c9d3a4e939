package scheduler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// A run's rendezvous skip the hooks only while none is set (the plain
// flag): a channel hook and a value check set by a step, in the middle of a
// ping-pong, see the very next send and receive, and clearing them brings
// back the plain path with every value delivered in order.
func TestHooksSetMidRunSeeTheNextRendezvous(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	const n = 8
	refused := errors.New("refused")
	var events []scheduler.ChannelEvent
	var got []int
	var sendErrs []error
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if len(got) > 0 || t.Steps() > 1 {
			got = append(got, t.Value().(int))
		}
		if len(got) == n-1 { // the refused value never comes
			return t.Exit()
		}
		return t.Recv(ch)
	}))
	i := 0
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if err := t.Err(); err != nil {
			sendErrs = append(sendErrs, err)
		}
		switch i {
		case 3:
			s.SetChannelHook(func(e scheduler.ChannelEvent) { events = append(events, e) })
		case 5:
			s.SetChannelHook(nil)
			s.SetValueCheck(func(v any) error {
				if v == 5 {
					return refused
				}
				return nil
			})
		case 6:
			s.SetValueCheck(nil)
		case n:
			return t.Exit()
		}
		i++
		return t.Send(ch, i-1)
	}))
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, []int{0, 1, 2, 3, 4, 6, 7}, got, "every value but the refused one, in order")
	require.Len(t, sendErrs, 1, "the check set mid-run refused the send of 5")
	assert.ErrorIs(t, sendErrs[0], refused)
	// The hook saw the sends of 3 and 4 and the receives between them.
	var sends, recvs int
	for _, e := range events {
		assert.Equal(t, ch, e.Chan)
		if e.Sending {
			sends++
		} else {
			recvs++
		}
	}
	assert.Equal(t, 2, sends, "the sends of 3 and 4, from the one after the hook was set: %v", events)
	assert.Equal(t, 2, recvs, "the receives of 3 and 4: %v", events)
}
