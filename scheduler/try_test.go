package scheduler_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// tryStep is a behavior made of one closure per step (then it exits), for
// the TrySend/TryRecv tests.
type tryStep []func(t *tasklet.T) tasklet.Op

func (s *tryStep) Step(t *tasklet.T) tasklet.Op {
	if len(*s) == 0 {
		return t.Exit()
	}
	f := (*s)[0]
	*s = (*s)[1:]
	return f(t)
}

func tryTasklet(fs ...func(t *tasklet.T) tasklet.Op) tasklet.Behavior {
	s := tryStep(fs)
	return &s
}

func TestTryOnABuffer(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(2)
	var log []string
	s.Spawn(tryTasklet(func(t *tasklet.T) tasklet.Op {
		for i := 1; i <= 3; i++ { // three sends in one step; the buffer holds two
			ok, err := t.TrySend(ch, i)
			log = append(log, fmt.Sprintf("send %d: %t %v", i, ok, err))
		}
		return t.Yield()
	}))
	s.Spawn(tryTasklet(func(t *tasklet.T) tasklet.Op {
		for { // drain in one step
			v, ok, err := t.TryRecv(ch)
			log = append(log, fmt.Sprintf("recv: %v %t %v", v, ok, err))
			if !ok {
				return t.Yield()
			}
		}
	}))
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{
		"send 1: true <nil>", "send 2: true <nil>", "send 3: false <nil>",
		"recv: 1 true <nil>", "recv: 2 true <nil>", "recv: <nil> false <nil>",
	}, log, "each tasklet did all its operations in its one step of the tick")
	assert.Equal(t, 0, s.Channel(ch).Len())
}

func TestTrySendWakesAReceiverWithoutSwitching(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0) // rendezvous, preference: the receiver runs at once for a Send
	var log []string
	s.Spawn(tryTasklet(
		func(t *tasklet.T) tasklet.Op {
			ok, err := t.TrySend(ch, "early") // nobody waits yet on a rendezvous channel
			log = append(log, fmt.Sprintf("early: %t %v", ok, err))
			return t.Yield()
		},
		func(t *tasklet.T) tasklet.Op {
			ok, err := t.TrySend(ch, "ball")
			log = append(log, fmt.Sprintf("sent: %t %v", ok, err))
			log = append(log, "sender goes on")
			return t.Yield()
		}))
	// The receiver runs after the sender in every tick.
	s.Spawn(tryTasklet(
		func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op {
			log = append(log, fmt.Sprintf("receiver got %v", t.Value()))
			return t.Exit()
		}))
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"early: false <nil>"}, log)
	assert.Equal(t, -1, s.Channel(ch).Balance(), "the receiver waits; the failed TrySend left nothing behind")

	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"early: false <nil>", "sent: true <nil>", "sender goes on", "receiver got ball"}, log,
		"the woken receiver runs later in the same tick, after the sender's step")
	assert.Equal(t, 0, s.Channel(ch).Balance())
}

func TestTryRecvTakesFromABlockedSender(t *testing.T) {
	s := scheduler.New()
	rv, buf := s.NewChannel(0), s.NewChannel(1)
	woke := map[string]error{}
	for _, c := range []struct {
		name string
		ch   channel.ID
		v    int
	}{{"rendezvous", rv, 7}, {"buffered a", buf, 1}, {"buffered b", buf, 2}} {
		s.Spawn(tryTasklet(
			func(t *tasklet.T) tasklet.Op { return t.Send(c.ch, c.v) },
			func(t *tasklet.T) tasklet.Op {
				woke[c.name] = t.Err()
				return t.Exit()
			}))
	}
	require.NoError(t, s.Tick())
	require.Equal(t, 1, s.Channel(rv).Balance(), "the rendezvous sender waits")
	require.Equal(t, 1, s.Channel(buf).Balance(), "b waits on the full buffer")

	v, ok, err := s.TryRecv(rv)
	assert.Equal(t, 7, v)
	assert.True(t, ok)
	assert.NoError(t, err)
	v, ok, err = s.TryRecv(buf)
	assert.Equal(t, 1, v, "the oldest buffered value first")
	assert.True(t, ok)
	assert.NoError(t, err)
	assert.Equal(t, []any{2}, s.Channel(buf).Buffer(), "the blocked sender's value took the free room")
	assert.Equal(t, 0, s.Channel(buf).Balance())

	require.NoError(t, s.Tick())
	assert.Equal(t, map[string]error{"rendezvous": nil, "buffered a": nil, "buffered b": nil}, woke,
		"both blocked senders woke with success")
}

func TestTryOnClosedAndMissingChannels(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(2)
	ok, err := s.TrySend(ch, "kept")
	require.True(t, ok)
	require.NoError(t, err)
	require.NoError(t, s.Close(ch))

	ok, err = s.TrySend(ch, "late")
	assert.False(t, ok)
	assert.ErrorIs(t, err, channel.ErrClosed)
	v, ok, err := s.TryRecv(ch)
	assert.Equal(t, "kept", v, "buffered values drain after close")
	assert.True(t, ok)
	assert.NoError(t, err)
	_, ok, err = s.TryRecv(ch)
	assert.False(t, ok)
	assert.ErrorIs(t, err, channel.ErrClosed)
	_, err = s.TrySend(ch, "after drop")
	assert.ErrorIs(t, err, channel.ErrClosed, "a closed channel that was dropped still reads as closed")

	_, err = s.TrySend(999, 1)
	assert.ErrorIs(t, err, scheduler.ErrNoChannel)
	_, _, err = s.TryRecv(999)
	assert.ErrorIs(t, err, scheduler.ErrNoChannel)
}

func TestTryRecvDeliversASentError(t *testing.T) {
	boom := errors.New("boom")
	s := scheduler.New()
	ch := s.NewChannel(1)
	s.Spawn(tryTasklet(func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, boom) }))
	require.NoError(t, s.Tick())
	v, ok, err := s.TryRecv(ch)
	assert.Nil(t, v)
	assert.True(t, ok, "an error was taken from the channel")
	assert.ErrorIs(t, err, boom)
}

func TestTryIsTrackedAndHooked(t *testing.T) {
	var events []scheduler.ChannelEvent
	s := scheduler.New(scheduler.WithChangeTracking(),
		scheduler.WithChannelHook(func(e scheduler.ChannelEvent) { events = append(events, e) }))
	quiet, ch := s.NewChannel(1), s.NewChannel(1)
	var id tasklet.ID
	id = s.Spawn(tryTasklet(func(t *tasklet.T) tasklet.Op {
		t.TrySend(ch, 1)
		return t.Yield()
	}))
	s.TakeChanges()
	require.NoError(t, s.Tick())
	changes := s.TakeChanges()
	assert.Contains(t, changes.Channels, ch, "a TrySend changes the channel: incremental checkpoints must see it")
	assert.NotContains(t, changes.Channels, quiet)
	assert.Equal(t, []scheduler.ChannelEvent{{Chan: ch, Tasklet: id, Sending: true}}, events)
	assert.Equal(t, []any{1}, s.World().Channels[1].Buffer, "a snapshot holds the value")
}
