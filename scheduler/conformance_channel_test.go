package scheduler_test

// Conformance tests of DESIGN.md "Semantics": channel preference, balance and
// FIFO waiters, buffered channels, close, SendErr.

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

// ---------------------------------------------------------------------------
// Channel preference (reference §1.3, the transfer/scheduling table)

type chanMode struct {
	name        string
	pref        int
	scheduleAll bool
}

var chanModes = []chanMode{
	{"prefer receiver (-1)", channel.PreferReceiver, false},
	{"prefer neither (0)", channel.PreferNeither, false},
	{"prefer sender (1)", channel.PreferSender, false},
	{"schedule all", channel.PreferReceiver, true},
}

func TestPreferenceSendToBlockedReceiver(t *testing.T) {
	// R blocks in receive; S sends to it; X is the next tasklet in the queue.
	want := map[string][]string{
		// the receiver runs at once; the sender is queued after X
		"prefer receiver (-1)": {"R:recv", "S:send", "R:got 7", "X", "S:after"},
		// the caller (sender) continues; the receiver goes to the back
		"prefer neither (0)": {"R:recv", "S:send", "S:after", "X", "R:got 7"},
		// the sender continues; the receiver goes to the back
		"prefer sender (1)": {"R:recv", "S:send", "S:after", "X", "R:got 7"},
		// both go to the back, partner first: X, R, S
		"schedule all": {"R:recv", "S:send", "X", "R:got 7", "S:after"},
	}
	for _, m := range chanModes {
		t.Run(m.name, func(t *testing.T) {
			var l logger
			s := scheduler.New()
			ch := s.NewChannel(0)
			s.Channel(ch).SetPreference(m.pref)
			s.Channel(ch).SetScheduleAll(m.scheduleAll)
			s.Spawn(steps(
				logStep(&l, "R:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
				func(t *tasklet.T) tasklet.Op { l.add("R:got %v", t.Value()); return t.Exit() }))
			s.Spawn(steps(
				logStep(&l, "S:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 7) }),
				logStep(&l, "S:after", exit)))
			s.Spawn(steps(logStep(&l, "X", exit)))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, want[m.name], l.entries)
		})
	}
}

func TestPreferenceReceiveFromBlockedSender(t *testing.T) {
	// S blocks in send; R receives from it; X is the next tasklet in the queue.
	want := map[string][]string{
		// the receiver (caller) continues; the sender goes to the back
		"prefer receiver (-1)": {"S:send", "R:recv", "R:got 7", "X", "S:after"},
		// the caller (receiver) continues
		"prefer neither (0)": {"S:send", "R:recv", "R:got 7", "X", "S:after"},
		// the sender runs at once; the receiver resumes after X
		"prefer sender (1)": {"S:send", "R:recv", "S:after", "X", "R:got 7"},
		// both go to the back, partner first: X, S, R
		"schedule all": {"S:send", "R:recv", "X", "S:after", "R:got 7"},
	}
	for _, m := range chanModes {
		t.Run(m.name, func(t *testing.T) {
			var l logger
			s := scheduler.New()
			ch := s.NewChannel(0)
			s.Channel(ch).SetPreference(m.pref)
			s.Channel(ch).SetScheduleAll(m.scheduleAll)
			s.Spawn(steps(
				logStep(&l, "S:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 7) }),
				logStep(&l, "S:after", exit)))
			s.Spawn(steps(
				logStep(&l, "R:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
				func(t *tasklet.T) tasklet.Op { l.add("R:got %v", t.Value()); return t.Exit() }))
			s.Spawn(steps(logStep(&l, "X", exit)))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, want[m.name], l.entries)
		})
	}
}

func TestPreferenceClamp(t *testing.T) {
	tests := []struct{ set, want int }{
		{2, 1}, {-2, -1}, {100, 1}, {-100, -1}, {1, 1}, {0, 0}, {-1, -1},
	}
	s := scheduler.New()
	ch := s.NewChannel(0)
	c := s.Channel(ch)
	require.NotNil(t, c)
	assert.Equal(t, channel.PreferReceiver, c.Preference(), "default preference")
	assert.False(t, c.ScheduleAll(), "default schedule-all")
	for _, tc := range tests {
		c.SetPreference(tc.set)
		assert.Equal(t, tc.want, c.Preference(), "SetPreference(%d)", tc.set)
		info, ok := s.ChannelInfo(ch)
		require.True(t, ok)
		assert.Equal(t, tc.want, info.Preference)
	}
}

// ---------------------------------------------------------------------------
// Balance, FIFO

func TestBalance(t *testing.T) {
	tests := []struct {
		name string
		sign int
		op   func(ch channel.ID) func(t *tasklet.T) tasklet.Op
	}{
		{"senders", 1, func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(ch, "v") }
		}},
		{"receivers", -1, func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }
		}},
		{"select senders", 1, func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.SendCase(ch, "v")) }
		}},
		{"select receivers", -1, func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.RecvCase(ch)) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			assert.Equal(t, 0, s.Balance(ch))

			t1 := s.Spawn(blockOnce(tc.op(ch)))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, 1*tc.sign, s.Balance(ch), "one blocked")

			t2 := s.Spawn(blockOnce(tc.op(ch)))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, 2*tc.sign, s.Balance(ch), "two blocked")

			require.NoError(t, s.Kill(t1, false))
			assert.Equal(t, 1*tc.sign, s.Balance(ch), "after killing the first")
			require.NoError(t, s.Kill(t2, true))
			assert.Equal(t, 0, s.Balance(ch), "after killing the second")

			require.NoError(t, s.Run(t.Context()), "killed tasklets that ignore the kill end quietly")
			assert.Zero(t, s.Len())
			assert.Equal(t, 0, s.Balance(ch))
		})
	}
}

func TestWaiterQueuesAreFIFO(t *testing.T) {
	t.Run("receivers", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		got := map[int]any{}
		var ids []tasklet.ID
		for i := range 3 {
			ids = append(ids, s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
				func(t *tasklet.T) tasklet.Op { got[i] = t.Value(); return t.Exit() })))
		}
		require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
		info, ok := s.ChannelInfo(ch)
		require.True(t, ok)
		assert.Equal(t, ids, info.Receivers, "queue order is blocking order")
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, "a") },
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, "b") },
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, "c") }))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, map[int]any{0: "a", 1: "b", 2: "c"}, got)
	})
	t.Run("senders", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		var ids []tasklet.ID
		for _, v := range []string{"a", "b", "c"} {
			ids = append(ids, s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, v) })))
		}
		require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
		info, ok := s.ChannelInfo(ch)
		require.True(t, ok)
		assert.Equal(t, ids, info.Senders)
		var got []any
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			if v := t.Value(); v != nil {
				got = append(got, v)
			}
			if len(got) == 3 {
				return t.Exit()
			}
			return t.Recv(ch)
		}))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []any{"a", "b", "c"}, got)
	})
}

// ---------------------------------------------------------------------------
// Buffered channels

func TestBufferedChannel(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(2)
	var l logger
	s.Spawn(fn(func() func(t *tasklet.T) tasklet.Op {
		i := 0
		return func(t *tasklet.T) tasklet.Op {
			if i > 0 {
				l.add("sent %d", i)
			}
			if i == 4 {
				return t.Exit()
			}
			i++
			return t.Send(ch, i)
		}
	}()))
	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock, "the sender blocks once the buffer is full")
	assert.Equal(t, []string{"sent 1", "sent 2"}, l.entries, "sends into free buffer room do not block")
	info, ok := s.ChannelInfo(ch)
	require.True(t, ok)
	assert.Equal(t, 2, info.Len)
	assert.Equal(t, 2, info.Cap)
	assert.Equal(t, 1, info.Balance, "one sender blocked on the full buffer")

	var got []any
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if v := t.Value(); v != nil {
			got = append(got, v)
			l.add("got %v", v)
		}
		if len(got) == 4 {
			return t.Exit()
		}
		return t.Recv(ch)
	}))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []any{1, 2, 3, 4}, got, "FIFO through the buffer")
	assert.Equal(t, 0, s.Balance(ch))
	assert.Equal(t, 0, s.Channel(ch).Len())
}

func TestBufferedChannelWakesBlockedSendersInOrder(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(1)
	var l logger
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "buffered") }))
	for _, v := range []string{"a", "b"} {
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, v) },
			func(t *tasklet.T) tasklet.Op { l.add("sender %s woke", v); return t.Exit() }))
	}
	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
	require.Equal(t, 2, s.Balance(ch))
	require.Equal(t, []any{"buffered"}, s.Channel(ch).Buffer())

	// One receive moves the first blocked sender's value into the buffer.
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op { l.add("got %v", t.Value()); return t.Exit() }))
	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
	assert.Equal(t, []string{"got buffered", "sender a woke"}, l.entries)
	assert.Equal(t, []any{"a"}, s.Channel(ch).Buffer())
	assert.Equal(t, 1, s.Balance(ch))

	l.entries = nil
	s.Spawn(fn(func() func(t *tasklet.T) tasklet.Op {
		n := 0
		return func(t *tasklet.T) tasklet.Op {
			if n > 0 {
				l.add("got %v", t.Value())
			}
			if n == 2 {
				return t.Exit()
			}
			n++
			return t.Recv(ch)
		}
	}()))
	require.NoError(t, s.Run(t.Context()))
	// A buffered receive does not switch: the receiver takes both values
	// before the woken sender runs.
	assert.Equal(t, []string{"got a", "got b", "sender b woke"}, l.entries)
}

// ---------------------------------------------------------------------------
// Close

func TestCloseWakesEveryBlockedTasklet(t *testing.T) {
	s := scheduler.New()
	recvCh := s.NewChannel(0)
	sendCh := s.NewChannel(0)
	fullCh := s.NewChannel(1)
	var l logger
	waiter := func(name string, op func(t *tasklet.T) tasklet.Op) tasklet.Behavior {
		return steps(op, func(t *tasklet.T) tasklet.Op {
			l.add("%s closed=%t", name, errors.Is(t.Err(), channel.ErrClosed))
			return t.Exit()
		})
	}
	s.Spawn(waiter("r1", func(t *tasklet.T) tasklet.Op { return t.Recv(recvCh) }))
	s.Spawn(waiter("r2", func(t *tasklet.T) tasklet.Op { return t.Recv(recvCh) }))
	s.Spawn(waiter("s1", func(t *tasklet.T) tasklet.Op { return t.Send(sendCh, 1) }))
	s.Spawn(waiter("s2", func(t *tasklet.T) tasklet.Op { return t.Send(sendCh, 2) }))
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(fullCh, "kept") }))
	s.Spawn(waiter("s3", func(t *tasklet.T) tasklet.Op { return t.Send(fullCh, 3) }))
	s.Spawn(waiter("sel", func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(recvCh), tasklet.SendCase(sendCh, 4))
	}))
	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
	require.Equal(t, -3, s.Balance(recvCh))
	require.Equal(t, 3, s.Balance(sendCh))
	require.Equal(t, 1, s.Balance(fullCh))

	s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		for _, ch := range []channel.ID{recvCh, sendCh, fullCh} {
			if err := t.Close(ch); err != nil {
				l.add("close: %v", err)
			}
		}
		return t.Exit()
	}))
	require.NoError(t, s.Run(t.Context()), "nobody stays blocked")
	assert.Equal(t, []string{
		"r1 closed=true", "r2 closed=true", "sel closed=true", // receivers of recvCh in queue order
		"s1 closed=true", "s2 closed=true", // senders of sendCh (sel's entry went with its wake)
		"s3 closed=true",
	}, l.entries)
	assert.Equal(t, 0, s.Balance(fullCh))
	info, ok := s.ChannelInfo(fullCh)
	require.True(t, ok, "a closed channel with buffered values stays")
	assert.True(t, info.Closed)
	assert.Equal(t, 1, info.Len)
	_, ok = s.ChannelInfo(recvCh)
	assert.False(t, ok, "a closed, empty channel is dropped")
}

func TestClosedChannel(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(3)
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 2) },
		func(t *tasklet.T) tasklet.Op {
			l.add("close: %v", t.Close(ch))
			return t.Send(ch, 3)
		},
		func(t *tasklet.T) tasklet.Op {
			l.add("send after close: %v", t.Err())
			return t.Exit()
		}))
	require.NoError(t, s.Run(t.Context()))
	require.True(t, s.Channel(ch).Closed())
	require.Equal(t, 2, s.Channel(ch).Len())

	recv := func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }
	report := func(t *tasklet.T) {
		if err := t.Err(); err != nil {
			l.add("recv: %v", err)
			return
		}
		l.add("recv: %v", t.Value())
	}
	s.Spawn(steps(recv,
		func(t *tasklet.T) tasklet.Op { report(t); return recv(t) },
		func(t *tasklet.T) tasklet.Op { report(t); return recv(t) },
		func(t *tasklet.T) tasklet.Op { report(t); return recv(t) },
		func(t *tasklet.T) tasklet.Op { report(t); return t.Send(ch, 9) },
		func(t *tasklet.T) tasklet.Op { l.add("send: %v", t.Err()); return t.Exit() }))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{
		"close: <nil>",
		"send after close: channel closed",
		"recv: 1", "recv: 2", // buffered values drain after close
		"recv: channel closed", "recv: channel closed",
		"send: channel closed",
	}, l.entries)
	_, ok := s.ChannelInfo(ch)
	assert.False(t, ok, "drained closed channel is dropped")
	require.NoError(t, s.Close(ch), "closing again is harmless")
}

func TestIterateUntilClosed(t *testing.T) {
	for _, capacity := range []int{0, 1, 3} {
		for _, m := range chanModes {
			t.Run(fmt.Sprintf("cap %d %s", capacity, m.name), func(t *testing.T) {
				s := scheduler.New()
				ch := s.NewChannel(capacity)
				s.Channel(ch).SetPreference(m.pref)
				s.Channel(ch).SetScheduleAll(m.scheduleAll)
				var got []any
				var endErr error
				s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
					if t.Steps() > 1 {
						if err := t.Err(); err != nil {
							endErr = err
							return t.Exit()
						}
						got = append(got, t.Value())
					}
					return t.Recv(ch)
				}))
				i := 0
				s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
					if i == 10 {
						t.Close(ch)
						return t.Exit()
					}
					i++
					return t.Send(ch, i)
				}))
				require.NoError(t, s.Run(t.Context()))
				assert.Equal(t, []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, got)
				assert.ErrorIs(t, endErr, channel.ErrClosed)
			})
		}
	}
}

// ---------------------------------------------------------------------------
// SendErr

func TestSendErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		recv func(ch channel.ID) func(t *tasklet.T) tasklet.Op
	}{
		{"recv", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }
		}},
		{"select", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.RecvCase(ch)) }
		}},
	} {
		for _, capacity := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s cap %d", tc.name, capacity), func(t *testing.T) {
				s := scheduler.New()
				ch := s.NewChannel(capacity)
				var gotErr error
				gotVal := any("unset")
				var senderErr error
				s.Spawn(steps(tc.recv(ch), func(t *tasklet.T) tasklet.Op {
					gotErr, gotVal = t.Err(), t.Value()
					return t.Exit()
				}))
				s.Spawn(steps(
					func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, errBoom) },
					func(t *tasklet.T) tasklet.Op { senderErr = t.Err(); return t.Exit() }))
				require.NoError(t, s.Run(t.Context()))
				assert.ErrorIs(t, gotErr, errBoom)
				assert.Nil(t, gotVal)
				assert.NoError(t, senderErr, "the sender itself succeeds")
			})
		}
	}
}

func TestSendErrUnreadFailsReceiver(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	r := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }, exit))
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, errBoom) }))
	err := s.Run(t.Context())
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, r, te.ID)
	assert.ErrorIs(t, err, errBoom)
	assert.Equal(t, uint64(2), te.Step)
}
