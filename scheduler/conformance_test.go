package scheduler_test

// Conformance tests: one test (or table) per rule of DESIGN.md "Semantics",
// following what Stackless's own suites check (reference/stackless.md §3).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Run queue

// yieldN logs name0..name(n-1), yielding after each, then exits.
func yieldN(l *logger, name string, n int) tasklet.Behavior {
	i := 0
	return fn(func(t *tasklet.T) tasklet.Op {
		if i == n {
			return t.Exit()
		}
		l.add("%s%d", name, i)
		i++
		return t.Yield()
	})
}

func TestRunQueueOrder(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *scheduler.Scheduler, l *logger)
		want  []string
	}{
		{
			name: "strict round robin",
			setup: func(s *scheduler.Scheduler, l *logger) {
				s.Spawn(yieldN(l, "A", 3))
				s.Spawn(yieldN(l, "B", 3))
				s.Spawn(yieldN(l, "C", 3))
			},
			want: []string{"A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2"},
		},
		{
			name: "spawn from a step appends at the back",
			setup: func(s *scheduler.Scheduler, l *logger) {
				a := yieldN(l, "A", 3)
				first := true
				s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
					if first {
						first = false
						t.Spawn(yieldN(l, "D", 3))
					}
					return a.Step(t)
				}))
				s.Spawn(yieldN(l, "B", 3))
				s.Spawn(yieldN(l, "C", 3))
			},
			want: []string{"A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "A2", "B2", "C2", "D2"},
		},
		{
			name: "yield goes to the back, continue keeps running",
			setup: func(s *scheduler.Scheduler, l *logger) {
				s.Spawn(steps(
					logStep(l, "A1", func(t *tasklet.T) tasklet.Op { return t.Continue() }),
					logStep(l, "A2", yield),
					logStep(l, "A3", exit)))
				s.Spawn(steps(logStep(l, "B1", yield), logStep(l, "B2", exit)))
			},
			want: []string{"A1", "A2", "B1", "A3", "B2"},
		},
		{
			name: "insert of a paused tasklet appends at the back",
			setup: func(s *scheduler.Scheduler, l *logger) {
				p := s.SpawnPaused(yieldN(l, "P", 2))
				s.Spawn(yieldN(l, "A", 2))
				s.Spawn(yieldN(l, "B", 2))
				if err := s.Insert(p); err != nil {
					panic(err)
				}
			},
			want: []string{"A0", "B0", "P0", "A1", "B1", "P1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l logger
			s := scheduler.New()
			tc.setup(s, &l)
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
			assert.Zero(t, s.Len())
		})
	}
}

func TestRunQueueIntrospectionOrder(t *testing.T) {
	s := scheduler.New()
	var l logger
	a := s.Spawn(yieldN(&l, "A", 1))
	b := s.Spawn(yieldN(&l, "B", 1))
	c := s.Spawn(yieldN(&l, "C", 1))
	assert.Equal(t, []tasklet.ID{a, b, c}, s.RunQueue())
	assert.Equal(t, 3, s.RunCount())
	require.NoError(t, s.Remove(b))
	assert.Equal(t, []tasklet.ID{a, c}, s.RunQueue())
	require.NoError(t, s.Insert(b))
	assert.Equal(t, []tasklet.ID{a, c, b}, s.RunQueue())
}

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

// blockOnce does op at its first step and exits at the second, ignoring
// whatever was delivered (so a kill ends it).
func blockOnce(op func(t *tasklet.T) tasklet.Op) tasklet.Behavior {
	return steps(op, exit)
}

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

var errBoom = errors.New("boom")

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

// ---------------------------------------------------------------------------
// Select

func TestSelectFirstReadyCaseWins(t *testing.T) {
	tests := []struct {
		name      string
		cases     func(a, b, c channel.ID) []tasklet.Case
		ready     []string // which of a, b hold a value
		wantIdx   int
		wantValue any
	}{
		{"both ready, a first", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.RecvCase(b)}
		}, []string{"a", "b"}, 0, "A"},
		{"both ready, b first", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(b), tasklet.RecvCase(a)}
		}, []string{"a", "b"}, 0, "B"},
		{"only the second ready", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.RecvCase(b)}
		}, []string{"b"}, 1, "B"},
		{"send into free buffer room", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.SendCase(c, "x"), tasklet.RecvCase(b)}
		}, []string{"b"}, 1, nil},
		{"ready case beats default", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.DefaultCase(), tasklet.RecvCase(a)}
		}, []string{"a"}, 1, "A"},
		{"ready case beats timeout", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.TimeoutCase(0), tasklet.RecvCase(a)}
		}, []string{"a"}, 1, "A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			a, b, c := s.NewChannel(1), s.NewChannel(1), s.NewChannel(1)
			for _, r := range tc.ready {
				if r == "a" {
					s.Post(a, "A")
				} else {
					s.Post(b, "B")
				}
			}
			idx, val := -5, any("unset")
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Select(tc.cases(a, b, c)...) },
				func(t *tasklet.T) tasklet.Op {
					idx, val = t.Chosen(), t.Value()
					if err := t.Err(); err != nil {
						return t.Fail(err)
					}
					return t.Exit()
				}))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.wantIdx, idx)
			assert.Equal(t, tc.wantValue, val)
		})
	}
}

func TestSelectBlocksUntilAnyCase(t *testing.T) {
	tests := []struct {
		name      string
		wake      func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op
		wantIdx   int
		wantValue any
	}{
		{"recv on a", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(a, "va") }
		}, 0, "va"},
		{"recv on b", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(b, "vb") }
		}, 1, "vb"},
		{"send on c", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(c) }
		}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			a, b, c := s.NewChannel(0), s.NewChannel(0), s.NewChannel(0)
			idx, val := -5, any("unset")
			sel := s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					return t.Select(tasklet.RecvCase(a), tasklet.RecvCase(b), tasklet.SendCase(c, "vc"))
				},
				func(t *tasklet.T) tasklet.Op {
					idx, val = t.Chosen(), t.Value()
					return t.Exit()
				}))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, []int{-1, -1, 1}, []int{s.Balance(a), s.Balance(b), s.Balance(c)})
			info, err := s.Info(sel)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Blocked, info.State)
			assert.Equal(t, "selecting", info.Op)
			assert.Equal(t, []channel.ID{a, b, c}, info.Chans)

			var woken any
			s.Spawn(steps(tc.wake(a, b, c), func(t *tasklet.T) tasklet.Op { woken = t.Value(); return t.Exit() }))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.wantIdx, idx)
			assert.Equal(t, tc.wantValue, val)
			if tc.wantIdx == 2 {
				assert.Equal(t, "vc", woken)
			}
			assert.Equal(t, []int{0, 0, 0}, []int{s.Balance(a), s.Balance(b), s.Balance(c)},
				"the other cases leave the balance")

			// The select's stale entries must not take part in later transfers.
			for _, ch := range []channel.ID{a, b} {
				s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "late") }))
			}
			s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c) }))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, []int{1, 1, -1}, []int{s.Balance(a), s.Balance(b), s.Balance(c)})
		})
	}
}

func TestSelectDefault(t *testing.T) {
	tt := t
	s := scheduler.New()
	a := s.NewChannel(0)
	var idx []int
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.RecvCase(a), tasklet.DefaultCase()) },
		func(t *tasklet.T) tasklet.Op {
			idx = append(idx, t.Chosen())
			assert.NoError(tt, t.Err())
			assert.Nil(tt, t.Value())
			return t.Exit()
		}))
	require.NoError(t, s.Run(t.Context()), "a select with a default never blocks")
	assert.Equal(t, []int{1}, idx)
	assert.Equal(t, 0, s.Balance(a), "a default select leaves no waiter behind")
}

func TestSelectTimeout(t *testing.T) {
	t.Run("fires on the virtual clock", func(t *testing.T) {
		s := scheduler.New()
		a := s.NewChannel(0)
		var l logger
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(a), tasklet.TimeoutCase(9*time.Second), tasklet.TimeoutCase(5*time.Second))
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("chosen %d at %v err %v", t.Chosen(), t.Now(), t.Err())
				return t.Exit()
			}))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"chosen 2 at 5s err <nil>"}, l.entries, "the shortest timeout fires")
		assert.Equal(t, 5*time.Second, s.Now())
		assert.Equal(t, 0, s.Balance(a))
	})
	t.Run("a value before the timeout", func(t *testing.T) {
		s := scheduler.New()
		a := s.NewChannel(0)
		var l logger
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(a), tasklet.TimeoutCase(5*time.Second))
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("chosen %d value %v at %v", t.Chosen(), t.Value(), t.Now())
				return t.Sleep(10 * time.Second)
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("woke at %v", t.Now())
				return t.Exit()
			}))
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) },
			func(t *tasklet.T) tasklet.Op { return t.Send(a, "v") }))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"chosen 0 value v at 2s", "woke at 12s"}, l.entries,
			"the stale timeout timer must not wake the later sleep")
	})
}

// ---------------------------------------------------------------------------
// Sleep and the virtual clock

func TestSleepOrder(t *testing.T) {
	s := scheduler.New()
	var l logger
	sleeper := func(name string, d time.Duration) tasklet.Behavior {
		return steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) },
			func(t *tasklet.T) tasklet.Op { l.add("%s@%v", name, t.Now()); return t.Exit() })
	}
	s.Spawn(sleeper("A", 3*time.Second))
	s.Spawn(sleeper("B", time.Second))
	s.Spawn(sleeper("C", 2*time.Second))
	s.Spawn(sleeper("D", 2*time.Second))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"B@1s", "C@2s", "D@2s", "A@3s"}, l.entries)
	assert.Equal(t, 3*time.Second, s.Now(), "Run jumps the virtual clock to each deadline")

	// Equal deadlines fire in the order they were set, whatever the IDs.
	s = scheduler.New()
	l.entries = nil
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Yield() },
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) }, // set second
		func(t *tasklet.T) tasklet.Op { l.add("first-spawned@%v", t.Now()); return t.Exit() }))
	s.Spawn(sleeper("second-spawned", 2*time.Second)) // set first
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"second-spawned@2s", "first-spawned@2s"}, l.entries)
}

func TestSleepWithRunnableTaskletsDoesNotJumpClock(t *testing.T) {
	s := scheduler.New()
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Second) },
		func(t *tasklet.T) tasklet.Op { l.add("sleeper@%v", t.Now()); return t.Exit() }))
	s.Spawn(yieldN(&l, "Y", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"Y0", "Y1", "Y2", "sleeper@1s"}, l.entries)
}

func TestZeroSleepAndTimeout(t *testing.T) {
	// Nothing to wait for: a zero or negative sleep is a yield and a zero
	// timeout fires at once, even while other tasklets keep the run queue
	// busy (on a virtual clock, a due timer would wait for it to empty).
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			var l logger
			s.Spawn(steps(
				logStep(&l, "A:sleep", func(t *tasklet.T) tasklet.Op { return t.Sleep(d) }),
				logStep(&l, "A:select", func(t *tasklet.T) tasklet.Op {
					return t.Select(tasklet.RecvCase(ch), tasklet.TimeoutCase(d))
				}),
				func(t *tasklet.T) tasklet.Op {
					l.add("A:chosen %d at %v", t.Chosen(), t.Now())
					return t.Exit()
				}))
			s.Spawn(yieldN(&l, "B", 3))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, []string{"A:sleep", "B0", "A:select", "A:chosen 1 at 0s", "B1", "B2"}, l.entries)
			assert.Equal(t, 0, s.Balance(ch))
		})
	}
}

// ---------------------------------------------------------------------------
// Tick

func TestTickOneStepPerTasklet(t *testing.T) {
	s := scheduler.New()
	var l logger
	busy := func(name string) tasklet.Behavior {
		return fn(func(t *tasklet.T) tasklet.Op {
			l.add("%s%d", name, t.Steps())
			return t.Continue()
		})
	}
	s.Spawn(busy("A"))
	s.Spawn(yieldN(&l, "Y", 10))
	s.Spawn(busy("B"))
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"A1", "Y0", "B1"}, l.entries)
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"A1", "Y0", "B1", "A2", "Y1", "B2"}, l.entries)
	assert.Equal(t, 3, s.RunCount())
}

func TestTickRunsWokenTaskletsThatHaveNotStepped(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var l logger
	s.Spawn(steps(
		logStep(&l, "R:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
		func(t *tasklet.T) tasklet.Op { l.add("R:got %v", t.Value()); return t.Exit() }))
	require.NoError(t, s.Tick())
	require.Equal(t, []string{"R:recv"}, l.entries)

	// Tick 2: S wakes R, which has not stepped in this tick, so R runs in it.
	s.Spawn(steps(
		logStep(&l, "S:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }),
		logStep(&l, "S:after", exit)))
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"S:send", "R:got 1"}, l.entries)
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"S:after"}, l.entries)

	// A tasklet woken after it already stepped in the tick waits for the next.
	s.Spawn(steps(
		logStep(&l, "R2:recv", func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }),
		func(t *tasklet.T) tasklet.Op { l.add("R2:got %v", t.Value()); return t.Exit() }))
	s.Spawn(steps(logStep(&l, "S2:send", func(t *tasklet.T) tasklet.Op { return t.Send(ch, 2) }), exit))
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"R2:recv", "S2:send"}, l.entries)
	l.entries = nil
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"R2:got 2"}, l.entries)
}

func TestTickKillOrRemoveOfSteppedTasklet(t *testing.T) {
	// A has already stepped in the tick when R, woken in the same tick,
	// kills or removes it: A must be neither lost nor queued twice.
	for _, tc := range []struct {
		name  string
		act   func(s *scheduler.Scheduler, a tasklet.ID) error
		state tasklet.State
		queue bool
	}{
		{"kill", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Kill(a, false) }, tasklet.Runnable, true},
		{"kill pending", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Kill(a, true) }, tasklet.Runnable, true},
		{"remove", func(s *scheduler.Scheduler, a tasklet.ID) error { return s.Remove(a) }, tasklet.Paused, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			ch := s.NewChannel(0)
			s.Channel(ch).SetPreference(channel.PreferSender)
			var l logger
			var a tasklet.ID
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
				func(t *tasklet.T) tasklet.Op {
					require.NoError(tt, tc.act(s, a))
					return t.Exit()
				}))
			require.NoError(t, s.Tick()) // R blocks
			a = s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("A:%v", err)
					return t.Exit()
				}
				l.add("A%d", t.Steps())
				return t.Yield()
			}))
			s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }, exit))
			require.NoError(t, s.Tick())
			require.Equal(t, []string{"A1"}, l.entries)
			info, err := s.Info(a)
			require.NoError(t, err)
			assert.Equal(t, tc.state, info.State)
			n := 0
			for _, id := range s.RunQueue() {
				if id == a {
					n++
				}
			}
			if tc.queue {
				assert.Equal(t, 1, n, "queued exactly once")
			} else {
				assert.Zero(t, n, "a removed tasklet is not queued")
			}
			for range 3 {
				require.NoError(t, s.Tick())
			}
			if tc.queue {
				assert.Equal(t, []string{"A1", "A:tasklet killed"}, l.entries)
			} else {
				assert.Equal(t, []string{"A1"}, l.entries, "a paused tasklet does not run")
			}
		})
	}
}

func TestWorldDuringTick(t *testing.T) {
	// A Do that runs between two steps of a Tick sees every runnable
	// tasklet, including those that already stepped in the tick, and its
	// World restores.
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Channel(ch).SetPreference(channel.PreferSender)
	var w *scheduler.World
	var queue []tasklet.ID
	var count int
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op {
			s.Do(func(s *scheduler.Scheduler) { w, queue, count = s.World(), s.RunQueue(), s.RunCount() })
			return t.Yield()
		}, exit))
	require.NoError(t, s.Tick()) // R blocks
	a := s.Spawn(yieldN(new(logger), "A", 3))
	snd := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }, exit))
	require.NoError(t, s.Tick()) // A steps; S wakes R, which runs after A and posts the Do
	require.NotNil(t, w)
	assert.Equal(t, []tasklet.ID{snd, 1, a}, queue, "A already stepped: it comes last")
	assert.Equal(t, 3, count)
	_, err := scheduler.Restore(w)
	assert.NoError(t, err)
}

func TestTickFiresDueTimersOnly(t *testing.T) {
	clock := scheduler.NewVirtualClock(0)
	s := scheduler.New(scheduler.WithClock(clock))
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Second) },
		func(t *tasklet.T) tasklet.Op { l.add("woke@%v", t.Now()); return t.Exit() }))
	require.NoError(t, s.Tick())
	require.NoError(t, s.Tick())
	assert.Empty(t, l.entries, "Tick never jumps the clock")
	assert.Equal(t, time.Duration(0), s.Now())
	clock.Advance(time.Second)
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"woke@1s"}, l.entries)
}

// ---------------------------------------------------------------------------
// Deadlock

func TestDeadlock(t *testing.T) {
	s := scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(0), s.NewChannel(0)
	r := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c1) }))
	snd := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(c2, 1) }))
	sel := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(c1), tasklet.SendCase(c3, 2))
	}))
	s.Spawn(yieldN(new(logger), "free", 2)) // finishes: not part of the deadlock
	err := s.Run(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, scheduler.ErrDeadlock)
	var de *scheduler.DeadlockError
	require.ErrorAs(t, err, &de)
	require.Len(t, de.Blocked, 3)
	want := []scheduler.Waiting{
		{ID: r, Op: "receiving", Chans: []channel.ID{c1}},
		{ID: snd, Op: "sending", Chans: []channel.ID{c2}},
		{ID: sel, Op: "selecting", Chans: []channel.ID{c1, c3}},
	}
	for i, w := range want {
		assert.Equal(t, w.ID, de.Blocked[i].ID)
		assert.Equal(t, w.Op, de.Blocked[i].Op)
		assert.Equal(t, w.Chans, de.Blocked[i].Chans)
		assert.NotEmpty(t, de.Blocked[i].Kind)
	}
	msg := err.Error()
	for _, part := range []string{"deadlock", r.String(), snd.String(), sel.String(), c1.String(), c2.String(), c3.String(),
		"receiving", "sending", "selecting"} {
		assert.Contains(t, msg, part)
	}
	assert.Contains(t, msg, fmt.Sprintf("%v (%s) receiving on %v", r, de.Blocked[0].Kind, c1))
}

func TestNoDeadlockWhenOnlyPausedOrFinished(t *testing.T) {
	s := scheduler.New()
	s.SpawnPaused(yieldN(new(logger), "p", 1))
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Pause() }))
	require.NoError(t, s.Run(t.Context()), "paused tasklets are not blocked")
	assert.Equal(t, 2, s.Len())
}

// ---------------------------------------------------------------------------
// Hold and Post

func TestHoldWaitsForPost(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	start := make(chan struct{})
	release := s.Hold()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		s.Post(ch, 42)
		release()
	}()
	var got any
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			close(start) // the poster may go now: the run queue is about to empty
			return t.Recv(ch)
		},
		func(t *tasklet.T) tasklet.Op { got = t.Value(); return t.Exit() }))
	require.NoError(t, s.Run(t.Context()), "an empty run queue under Hold waits for input")
	wg.Wait()
	assert.Equal(t, 42, got)

	// Without a hold the same wait is a deadlock.
	s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	assert.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
}

func TestHoldRespectsContext(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	release := s.Hold()
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		cancel()
		return t.Recv(ch)
	}))
	assert.ErrorIs(t, s.Run(ctx), context.Canceled)
}

// ---------------------------------------------------------------------------
// Watchdog (RunBudget, reference §1.5)

// busyN returns Continue n times, then exits.
func busyN(n int) tasklet.Behavior {
	return fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() > uint64(n) {
			return t.Exit()
		}
		return t.Continue()
	})
}

func TestRunBudgetTimesliceHard(t *testing.T) {
	s := scheduler.New()
	busy := s.Spawn(busyN(100)) // 101 steps: 100 Continue and the Exit
	coop := s.Spawn(yieldN(new(logger), "c", 100))
	interrupts := 0
	for {
		id, err := s.RunBudget(t.Context(), 5, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		interrupts++
		require.Equal(t, busy, id, "only the busy tasklet is ever interrupted, never %v", coop)
		info, err := s.Info(id)
		require.NoError(t, err)
		assert.Equal(t, tasklet.Paused, info.State, "the victim is paused")
		assert.NotContains(t, s.RunQueue(), id, "the victim is out of the run queue")
		assert.Equal(t, uint64(5*interrupts), info.Steps, "the victim ran exactly one timeslice per switch")
		require.NoError(t, s.Insert(id))
		assert.Equal(t, id, s.RunQueue()[len(s.RunQueue())-1], "Insert puts it at the back")
	}
	assert.Equal(t, 20, interrupts)
	assert.Zero(t, s.Len(), "everything finished")
}

func TestRunBudgetCooperativeNeverVictimAfterAtomic(t *testing.T) {
	// An atomic tasklet overruns its slice (the interrupt is deferred), then
	// leaves atomic mode and yields in the same step. The deferred interrupt
	// belongs to its slice; the next, cooperative tasklet gets a fresh slice.
	s := scheduler.New()
	atomicT := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		switch n := t.Steps(); {
		case n == 1:
			t.SetAtomic(true)
			return t.Continue()
		case n < 10:
			return t.Continue()
		case n == 10:
			t.SetAtomic(false)
			return t.Yield()
		case n < 20:
			return t.Yield()
		}
		return t.Exit()
	}))
	coop := s.Spawn(yieldN(new(logger), "c", 20))
	for {
		id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		assert.NotEqual(t, coop, id, "a cooperative tasklet must never be the victim")
		assert.NotEqual(t, atomicT, id, "the atomic tasklet yielded as soon as it left atomic mode")
		require.NoError(t, s.Insert(id))
	}
	assert.Zero(t, s.Len())
}

func TestRunBudgetAtomicNeverInterrupted(t *testing.T) {
	tt := t
	s := scheduler.New()
	var l logger
	a := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		n := t.Steps()
		switch {
		case n == 1:
			t.SetAtomic(true)
		case n == 21:
			assert.True(tt, t.SetAtomic(false), "SetAtomic returns the old setting")
		case n > 30:
			return t.Exit()
		}
		l.add("A%d", n)
		return t.Continue()
	}))
	s.Spawn(yieldN(&l, "B", 5))
	id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
	require.NoError(t, err)
	require.Equal(t, a, id)
	info, err := s.Info(a)
	require.NoError(t, err)
	assert.Equal(t, uint64(21), info.Steps, "interrupted at the first check after leaving atomic mode")
	assert.False(t, info.Atomic)
	var atomicSection []string
	for i := 1; i <= 21; i++ {
		atomicSection = append(atomicSection, fmt.Sprintf("A%d", i))
	}
	assert.Equal(t, atomicSection, l.entries, "the atomic section is never split")
	require.NoError(t, s.Insert(a))
	for {
		id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		require.NoError(t, s.Insert(id))
	}
	assert.Zero(t, s.Len())
}

func TestRunBudgetTotal(t *testing.T) {
	for _, n := range []int{1, 7, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := scheduler.New()
			s.Spawn(yieldN(new(logger), "a", 30))
			s.Spawn(yieldN(new(logger), "b", 30))
			s.Spawn(busyN(30))
			before := s.Steps()
			id, err := s.RunBudget(t.Context(), n, scheduler.Total)
			require.NoError(t, err)
			require.NotZero(t, id)
			assert.Equal(t, before+uint64(n), s.Steps(), "exactly n steps in all")
			info, err := s.Info(id)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Paused, info.State)
			assert.NotContains(t, s.RunQueue(), id)
			require.NoError(t, s.Insert(id))
			total := uint64(n)
			for {
				before := s.Steps()
				id, err := s.RunBudget(t.Context(), n, scheduler.Total)
				require.NoError(t, err)
				total += s.Steps() - before
				if id == 0 {
					break
				}
				assert.Equal(t, uint64(n), s.Steps()-before)
				require.NoError(t, s.Insert(id))
			}
			assert.Zero(t, s.Len())
			assert.Equal(t, uint64(31+31+31), total, "every step of every tasklet ran once")
		})
	}
}

func TestRunBudgetSoft(t *testing.T) {
	s := scheduler.New()
	// B runs 10 steps, yielding only at the 10th, forever.
	b := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps()%10 == 0 {
			return t.Yield()
		}
		return t.Continue()
	}))
	c := s.Spawn(yieldN(new(logger), "c", 1000))
	id, err := s.RunBudget(t.Context(), 3, scheduler.Soft)
	require.NoError(t, err)
	assert.Zero(t, id, "soft mode returns no victim")
	bi, err := s.Info(b)
	require.NoError(t, err)
	assert.Equal(t, uint64(10), bi.Steps, "soft mode lets B run on to its switch")
	ci, err := s.Info(c)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), ci.Steps, "returned at the switch, before C ran")
	assert.Equal(t, []tasklet.ID{c, b}, s.RunQueue(), "everything stays queued, in order")
	assert.Equal(t, tasklet.Runnable, bi.State)

	// Soft + Total: returns at the first switch after n steps in all.
	before := s.Steps()
	id, err = s.RunBudget(t.Context(), 4, scheduler.Soft|scheduler.Total)
	require.NoError(t, err)
	assert.Zero(t, id)
	assert.Equal(t, before+1+10, s.Steps(), "C steps once, then B runs on past the budget to its switch")
	assert.Equal(t, 2, s.RunCount())
	require.NoError(t, s.Kill(b, false))
	require.NoError(t, s.Kill(c, false))
	require.NoError(t, s.Run(t.Context()))
}

// sendRecvClient sends N values on Ch, doing Busy Continue steps before each.
type sendRecvClient struct {
	Ch   channel.ID
	Base int
	N    int
	Busy int
	sent int
	busy int
}

func (c *sendRecvClient) Step(t *tasklet.T) tasklet.Op {
	if c.sent == c.N {
		return t.Exit()
	}
	if c.busy < c.Busy {
		c.busy++
		return t.Continue()
	}
	c.busy = 0
	c.sent++
	return t.Send(c.Ch, c.Base+c.sent)
}

func TestWatchdogSendRecv(t *testing.T) {
	// Stackless test_watchdog.py test_send_recv: a server counts exactly 60
	// messages from 3 clients x 20 sends under a watchdog autoschedule loop.
	s := scheduler.New()
	ch := s.NewChannel(0)
	got := map[int]int{}
	count := 0
	receiving := false
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if receiving {
			got[t.Value().(int)]++
			count++
			receiving = false
		}
		if count == 60 {
			return t.Exit()
		}
		if t.Steps()%3 == 0 {
			return t.Continue() // a busy server too
		}
		receiving = true
		return t.Recv(ch)
	}))
	for i := range 3 {
		s.Spawn(&sendRecvClient{Ch: ch, Base: 100 * i, N: 20, Busy: 9})
	}
	interrupts := 0
	for {
		id, err := s.RunBudget(t.Context(), 7, 0)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		interrupts++
		require.NoError(t, s.Insert(id))
	}
	assert.Equal(t, 60, count)
	assert.Len(t, got, 60, "every message arrived exactly once")
	for v, n := range got {
		assert.Equal(t, 1, n, "value %d", v)
	}
	assert.Positive(t, interrupts, "the busy clients were interrupted")
	assert.Zero(t, s.Len())
}

// ---------------------------------------------------------------------------
// Kill and Throw

func TestKillImmediateVsPending(t *testing.T) {
	tests := []struct {
		name    string
		pending bool
		want    []string
	}{
		// immediate: V runs before the caller's next step and before X
		{"immediate", false, []string{"K:kill", "V:tasklet killed", "X", "K:after"}},
		// pending: V just becomes runnable and runs in queue order
		{"pending", true, []string{"K:kill", "X", "V:tasklet killed", "K:after"}},
	}
	for _, tc := range tests {
		t.Run("from a step/"+tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			var l logger
			var v tasklet.ID
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					l.add("K:kill")
					require.NoError(tt, t.Host().Kill(v, tc.pending))
					return t.Yield()
				},
				logStep(&l, "K:after", exit)))
			s.Spawn(steps(logStep(&l, "X", exit)))
			ch := s.NewChannel(0)
			v = s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			// Let V block first, so the kill also unblocks it.
			s.Channel(ch) // exists
			require.NoError(t, s.Remove(v))
			require.NoError(t, s.Insert(v)) // V still at the back of the queue
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
		})
	}
	for _, tc := range []struct {
		name    string
		pending bool
		want    []string
	}{
		{"immediate", false, []string{"V:tasklet killed", "A", "B"}},
		{"pending", true, []string{"A", "B", "V:tasklet killed"}},
	} {
		t.Run("from the host/"+tc.name, func(t *testing.T) {
			s := scheduler.New()
			var l logger
			s.Spawn(steps(logStep(&l, "A", exit)))
			s.Spawn(steps(logStep(&l, "B", exit)))
			ch := s.NewChannel(0)
			v := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			require.NoError(t, s.Kill(v, tc.pending))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.want, l.entries)
		})
	}
}

func TestKillBlockedTasklet(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%t", pending), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			var seen error
			v := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if t.Steps() == 1 {
					return t.Recv(ch)
				}
				seen = t.Err()
				return t.Exit()
			}))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			require.Equal(t, -1, s.Balance(ch))
			require.NoError(t, s.Kill(v, pending))
			assert.Equal(t, 0, s.Balance(ch), "the kill unblocks it: balance moves back to 0")
			info, err := s.Info(v)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Runnable, info.State)
			require.NoError(t, s.Run(t.Context()))
			assert.ErrorIs(t, seen, tasklet.ErrKilled)
			// A later sender must not find the killed receiver.
			s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, 1, s.Balance(ch))
		})
	}
}

func TestKillSleepingTasklet(t *testing.T) {
	tt := t
	s := scheduler.New()
	var l logger
	v := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Sleep(10 * time.Second)
		}
		if errors.Is(t.Err(), tasklet.ErrKilled) {
			l.add("killed@%v", t.Now())
			return t.Sleep(time.Second)
		}
		l.add("woke@%v", t.Now())
		return t.Exit()
	}))
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) },
		func(t *tasklet.T) tasklet.Op {
			require.NoError(tt, t.Host().Kill(v, false))
			return t.Exit()
		}))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"killed@2s", "woke@3s"}, l.entries, "the old 10s timer is stale")
	assert.Equal(t, 3*time.Second, s.Now())
}

func TestKillSurviveOrDie(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	var l logger
	survivor := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
		if errors.Is(t.Err(), tasklet.ErrKilled) {
			l.add("survivor caught the kill")
			return t.Yield()
		}
		if t.Steps() >= 3 {
			l.add("survivor exits at step %d", t.Steps())
			return t.Exit()
		}
		return t.Yield()
	}))
	ignorer := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
		l.add("ignorer step %d", t.Steps())
		return t.Yield()
	}))
	require.NoError(t, s.Kill(survivor, true))
	require.NoError(t, s.Kill(ignorer, true))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{
		"survivor caught the kill",
		"ignorer step 1", // the step runs; its result is discarded and it ends
		"survivor exits at step 3",
	}, l.entries)
	assert.Empty(t, handled, "a kill that is not handled ends the tasklet silently")
	_, err := s.Info(ignorer)
	assert.ErrorIs(t, err, scheduler.ErrDead)
	assert.NoError(t, s.Kill(ignorer, false), "killing a dead tasklet is a no-op")
	assert.NoError(t, s.Kill(ignorer, true))
	assert.ErrorIs(t, s.Throw(ignorer, errBoom, false), scheduler.ErrDead)
	assert.ErrorIs(t, s.Kill(tasklet.ID(999), false), scheduler.ErrNoTasklet)
}

func TestThrowUnhandled(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%t/Run", pending), func(t *testing.T) {
			s := scheduler.New()
			v := s.Spawn(yieldN(new(logger), "v", 5))
			require.NoError(t, s.Tick())
			require.NoError(t, s.Throw(v, errBoom, pending))
			err := s.Run(t.Context())
			var te *scheduler.TaskletError
			require.ErrorAs(t, err, &te)
			assert.ErrorIs(t, err, errBoom)
			assert.Equal(t, v, te.ID)
			assert.Equal(t, "scheduler_test.fn", te.Kind)
			assert.Equal(t, uint64(2), te.Step)
			assert.Nil(t, te.Panic)
			assert.Contains(t, err.Error(), v.String())
			assert.Contains(t, err.Error(), "step 2")
			assert.Contains(t, err.Error(), "boom")
		})
	}
	t.Run("error handler", func(t *testing.T) {
		tt := t
		var handled []error
		s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
		v := s.Spawn(yieldN(new(logger), "v", 5))
		other := 0
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			other++
			if other == 1 {
				require.NoError(tt, t.Host().Throw(v, errBoom, false))
			}
			if other == 4 {
				return t.Exit()
			}
			return t.Yield()
		}))
		require.NoError(t, s.Run(t.Context()))
		require.Len(t, handled, 1)
		var te *scheduler.TaskletError
		require.ErrorAs(t, handled[0], &te)
		assert.Equal(t, v, te.ID)
		assert.ErrorIs(t, te, errBoom)
		assert.Equal(t, 4, other, "the scheduler went on")
	})
	t.Run("into the running tasklet", func(t *testing.T) {
		s := scheduler.New()
		var err error
		self := tasklet.ID(0)
		self = s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
			err = t.Host().Throw(self, errBoom, false)
			return t.Exit()
		}))
		require.NoError(t, s.Run(t.Context()))
		assert.ErrorIs(t, err, scheduler.ErrCurrent)
	})
}

func TestKillTwiceFromOneStep(t *testing.T) {
	tt := t
	// Two immediate kills from one step: both targets run, each exactly
	// once, in the order they were killed, before the caller's next step.
	s := scheduler.New()
	var l logger
	target := func(name string) tasklet.Behavior {
		return fn(func(t *tasklet.T) tasklet.Op {
			if err := t.Err(); err != nil {
				l.add("%s:%v", name, err)
				return t.Exit()
			}
			return t.Yield()
		})
	}
	var a, b tasklet.ID
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			require.NoError(tt, t.Host().Kill(a, false))
			require.NoError(tt, t.Host().Kill(b, false))
			require.NoError(tt, t.Host().Kill(a, false)) // again: still one wake
			return t.Continue()
		},
		logStep(&l, "K:after", exit)))
	a = s.Spawn(target("A"))
	b = s.Spawn(target("B"))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"A:tasklet killed", "B:tasklet killed", "K:after"}, l.entries)
}

func TestKillFromAStepThatDies(t *testing.T) {
	// K ignores the kill delivered to it, so its step ends it; in that same
	// step it kills V immediately. V must still run.
	for _, via := range []string{"Run", "Tick"} {
		t.Run(via, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			var l logger
			var v tasklet.ID
			k := s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				require.NoError(tt, t.Host().Kill(v, false))
				return t.Yield()
			}))
			v = s.SpawnPaused(fn(func(t *tasklet.T) tasklet.Op {
				if err := t.Err(); err != nil {
					l.add("V:%v", err)
					return t.Exit()
				}
				return t.Yield()
			}))
			require.NoError(t, s.Kill(k, false))
			if via == "Run" {
				require.NoError(t, s.Run(t.Context()))
			} else {
				require.NoError(t, s.Tick())
			}
			assert.Equal(t, []string{"V:tasklet killed"}, l.entries)
			assert.Zero(t, s.Len())
		})
	}
}

// ---------------------------------------------------------------------------
// Life cycle

func TestLifeCycle(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	state := func(id tasklet.ID) tasklet.State {
		info, err := s.Info(id)
		if err != nil {
			return tasklet.Dead
		}
		return info.State
	}

	p := s.SpawnPaused(yieldN(new(logger), "p", 1))
	assert.Equal(t, tasklet.Paused, state(p), "SpawnPaused")
	require.NoError(t, s.Insert(p))
	assert.Equal(t, tasklet.Runnable, state(p), "Insert")
	require.NoError(t, s.Insert(p), "Insert of a runnable tasklet is a no-op")
	assert.Equal(t, []tasklet.ID{p}, s.RunQueue(), "and does not queue it twice")
	require.NoError(t, s.Remove(p))
	assert.Equal(t, tasklet.Paused, state(p), "Remove")
	require.NoError(t, s.Remove(p), "Remove of a paused tasklet is a no-op")
	assert.Empty(t, s.RunQueue())

	b := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	sl := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Hour) }))
	ps := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Pause() }))
	require.NoError(t, s.Tick())
	assert.Equal(t, tasklet.Blocked, state(b))
	assert.Equal(t, tasklet.Sleeping, state(sl))
	assert.Equal(t, tasklet.Paused, state(ps), "t.Pause()")

	for _, id := range []tasklet.ID{b, sl} {
		assert.ErrorIs(t, s.Insert(id), scheduler.ErrBlocked, "Insert of a waiting tasklet")
		assert.ErrorIs(t, s.Remove(id), scheduler.ErrBlocked, "Remove of a waiting tasklet")
	}

	require.NoError(t, s.Insert(p))
	require.NoError(t, s.Insert(ps))
	require.NoError(t, s.Kill(b, false))
	require.NoError(t, s.Kill(sl, false))
	require.NoError(t, s.Run(t.Context()))
	for _, id := range []tasklet.ID{p, b, sl, ps} {
		assert.Equal(t, tasklet.Dead, state(id))
		_, err := s.Info(id)
		assert.ErrorIs(t, err, scheduler.ErrDead)
		assert.ErrorIs(t, s.Insert(id), scheduler.ErrDead)
		assert.ErrorIs(t, s.Remove(id), scheduler.ErrDead)
		assert.ErrorIs(t, s.Throw(id, errBoom, false), scheduler.ErrDead)
		assert.NoError(t, s.Kill(id, false))
		assert.Nil(t, s.Behavior(id))
	}
	_, err := s.Info(tasklet.ID(12345))
	assert.ErrorIs(t, err, scheduler.ErrNoTasklet, "an ID never handed out")
	assert.Zero(t, s.Len())
}

func TestAdoptAndRelease(t *testing.T) {
	s := scheduler.New(scheduler.WithNode(1))
	other := scheduler.New(scheduler.WithNode(7))
	rec, err := other.Release(other.SpawnPaused(yieldN(new(logger), "m", 2)))
	require.NoError(t, err)
	require.Equal(t, uint16(7), rec.ID().Node())
	require.NoError(t, s.Adopt(rec))
	info, err := s.Info(rec.ID())
	require.NoError(t, err)
	assert.Equal(t, tasklet.Paused, info.State)
	assert.Error(t, s.Adopt(rec), "the ID exists already")

	r := s.Spawn(yieldN(new(logger), "r", 1))
	_, err = s.Release(r)
	assert.Error(t, err, "a runnable tasklet cannot leave")
	got, err := s.Release(rec.ID())
	require.NoError(t, err)
	assert.Same(t, rec, got)
	_, err = s.Info(rec.ID())
	assert.ErrorIs(t, err, scheduler.ErrNoTasklet, "an ID of another node is unknown here")
	assert.Equal(t, uint16(1), r.Node())
}

// ---------------------------------------------------------------------------
// Failures: panics and the error handler

type panicker struct{ At uint64 }

func (p *panicker) Step(t *tasklet.T) tasklet.Op {
	if t.Steps() == p.At {
		panic("kaboom")
	}
	return t.Yield()
}

func TestPanicKillsOnlyItsTasklet(t *testing.T) {
	s := scheduler.New()
	var l logger
	p := s.Spawn(&panicker{At: 2})
	s.Spawn(yieldN(&l, "B", 5))
	err := s.Run(t.Context())
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, scheduler.ErrTaskletPanic)
	assert.Equal(t, p, te.ID)
	assert.Equal(t, "*scheduler_test.panicker", te.Kind)
	assert.Equal(t, uint64(2), te.Step)
	assert.Equal(t, "kaboom", te.Panic)
	assert.Contains(t, te.Stack, "panicker")
	assert.Contains(t, err.Error(), "panicked in step 2: kaboom")
	_, ierr := s.Info(p)
	assert.ErrorIs(t, ierr, scheduler.ErrDead)

	require.NoError(t, s.Run(t.Context()), "the other tasklets keep running")
	assert.Equal(t, []string{"B0", "B1", "B2", "B3", "B4"}, l.entries)
	assert.Zero(t, s.Len())
}

func TestPanicInTick(t *testing.T) {
	s := scheduler.New()
	var l logger
	s.Spawn(&panicker{At: 1})
	s.Spawn(yieldN(&l, "B", 3))
	err := s.Tick()
	assert.ErrorIs(t, err, scheduler.ErrTaskletPanic)
	assert.Equal(t, []string{"B0"}, l.entries, "the rest of the tick ran")
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"B0", "B1"}, l.entries)
}

func TestErrorHandler(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	var l logger
	pan := s.Spawn(&panicker{At: 1})
	failer := s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	s.Spawn(yieldN(&l, "B", 4))
	require.NoError(t, s.Run(t.Context()), "with a handler, Run does not return failures")
	assert.Equal(t, []string{"B0", "B1", "B2", "B3"}, l.entries)
	require.Len(t, handled, 2)
	var te *scheduler.TaskletError
	require.ErrorAs(t, handled[0], &te)
	assert.Equal(t, pan, te.ID)
	assert.ErrorIs(t, handled[0], scheduler.ErrTaskletPanic)
	require.ErrorAs(t, handled[1], &te)
	assert.Equal(t, failer, te.ID)
	assert.Equal(t, uint64(2), te.Step)
	assert.ErrorIs(t, handled[1], errBoom)
	assert.ErrorIs(t, handled[1], scheduler.ErrTaskletFailed)

	old := s.SetErrorHandler(nil)
	require.NotNil(t, old)
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	assert.ErrorIs(t, s.Run(t.Context()), errBoom, "without a handler Run returns it")
	assert.Len(t, handled, 2)
}

func TestSeveralFailuresAreJoined(t *testing.T) {
	tt := t
	s := scheduler.New()
	errA, errB := errors.New("a"), errors.New("b")
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		require.NoError(tt, t.Host().Throw(t.ID()+1, errA, true))
		require.NoError(tt, t.Host().Throw(t.ID()+2, errB, true))
		return t.Exit()
	}))
	s.Spawn(yieldN(new(logger), "x", 3))
	s.Spawn(yieldN(new(logger), "y", 3))
	err := s.Tick()
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
}

// ---------------------------------------------------------------------------
// Hooks

func TestScheduleHook(t *testing.T) {
	type pair struct{ prev, next tasklet.ID }
	var pairs []pair
	s := scheduler.New(scheduler.WithScheduleHook(func(prev, next tasklet.ID) {
		pairs = append(pairs, pair{prev, next})
	}))
	a := s.Spawn(yieldN(new(logger), "a", 2)) // steps: yield, yield, exit
	b := s.Spawn(yieldN(new(logger), "b", 2))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []pair{{0, a}, {a, b}, {b, a}, {a, b}, {b, a}, {a, b}}, pairs)

	old := s.SetScheduleHook(nil)
	require.NotNil(t, old)
	pairs = nil
	s.Spawn(yieldN(new(logger), "c", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Empty(t, pairs, "a removed hook is not called")

	// A tasklet that keeps running without a switch is one switch.
	s.SetScheduleHook(func(prev, next tasklet.ID) { pairs = append(pairs, pair{prev, next}) })
	d := s.Spawn(busyN(10))
	require.NoError(t, s.Run(t.Context()))
	require.Len(t, pairs, 1)
	assert.Equal(t, d, pairs[0].next)
}

func TestChannelHook(t *testing.T) {
	var events []scheduler.ChannelEvent
	s := scheduler.New(scheduler.WithChannelHook(func(e scheduler.ChannelEvent) { events = append(events, e) }))
	ch := s.NewChannel(0)
	buf := s.NewChannel(1)
	r := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	snd := s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },  // a receiver waits
		func(t *tasklet.T) tasklet.Op { return t.Send(buf, 1) }, // room in the buffer
		func(t *tasklet.T) tasklet.Op { return t.Recv(buf) },    // a value is buffered
		func(t *tasklet.T) tasklet.Op { return t.Recv(buf) },    // empty: blocks
		func(t *tasklet.T) tasklet.Op { return t.Exit() }))
	s.Spawn(steps(yield, yield, yield,
		func(t *tasklet.T) tasklet.Op { return t.Send(buf, 2) }, // receiver waits
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 3) })) // blocks
	err := s.Run(t.Context())
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	last := tasklet.ID(3)
	assert.Equal(t, []scheduler.ChannelEvent{
		{Chan: ch, Tasklet: r, Sending: false, WillBlock: true},
		{Chan: ch, Tasklet: snd, Sending: true, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: true, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: false, WillBlock: false},
		{Chan: buf, Tasklet: snd, Sending: false, WillBlock: true},
		{Chan: buf, Tasklet: last, Sending: true, WillBlock: false},
		{Chan: ch, Tasklet: last, Sending: true, WillBlock: true},
	}, events)

	old := s.SetChannelHook(nil)
	require.NotNil(t, old)
}

// ---------------------------------------------------------------------------
// Block trap

func TestBlockTrap(t *testing.T) {
	tests := []struct {
		name string
		op   func(ch channel.ID) func(t *tasklet.T) tasklet.Op
	}{
		{"recv", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }
		}},
		{"send", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) }
		}},
		{"select", func(ch channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(ch), tasklet.TimeoutCase(time.Second))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := t
			s := scheduler.New()
			ch := s.NewChannel(0)
			var got error
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					assert.False(tt, t.SetBlockTrap(true))
					assert.True(tt, t.BlockTrap())
					return tc.op(ch)(t)
				},
				func(t *tasklet.T) tasklet.Op { got = t.Err(); return t.Exit() }))
			require.NoError(t, s.Run(t.Context()), "the trapped op does not block")
			assert.ErrorIs(t, got, tasklet.ErrBlockTrap)
			assert.Equal(t, 0, s.Balance(ch))
			assert.Equal(t, time.Duration(0), s.Now(), "no timer was set")
		})
	}
	t.Run("recv on the channel used last", func(t *testing.T) {
		// The run loop's own path for a receive that waits takes the
		// channel of the last operation: the trap holds there too.
		s := scheduler.New()
		ch := s.NewChannel(1)
		var got error
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },
			func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { t.SetBlockTrap(true); return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { got = t.Err(); return t.Exit() }))
		require.NoError(t, s.Run(t.Context()), "the trapped op does not block")
		assert.ErrorIs(t, got, tasklet.ErrBlockTrap)
		assert.Equal(t, 0, s.Balance(ch))
	})
	t.Run("ops that find a partner still work", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "v") }))
		var got any
		var gotErr error
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { t.SetBlockTrap(true); return t.Recv(ch) },
			func(t *tasklet.T) tasklet.Op { got, gotErr = t.Value(), t.Err(); return t.Exit() }))
		require.NoError(t, s.Run(t.Context()))
		assert.NoError(t, gotErr)
		assert.Equal(t, "v", got)
	})
}

// ---------------------------------------------------------------------------
// Post and Do

func TestPostFromManyGoroutines(t *testing.T) {
	const goroutines, per = 8, 200
	for _, capacity := range []int{0, 4} {
		t.Run(fmt.Sprintf("cap %d", capacity), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(capacity)
			release := s.Hold()
			got := make(map[int]int)
			s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if t.Steps() > 1 {
					got[t.Value().(int)]++
				}
				if len(got) == goroutines*per {
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						s.Post(ch, g*per+i)
					}
				}()
			}
			go func() { wg.Wait(); release() }()
			require.NoError(t, s.Run(t.Context()))
			wg.Wait()
			assert.Len(t, got, goroutines*per)
			for v, n := range got {
				require.Equal(t, 1, n, "value %d received %d times", v, n)
			}
		})
	}
}

func TestPostToFullBufferWaits(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(1)
	for i := 1; i <= 5; i++ {
		s.Post(ch, i)
	}
	require.NoError(t, s.Run(t.Context()), "posted values waiting are not a deadlock")
	info, ok := s.ChannelInfo(ch)
	require.True(t, ok)
	assert.Equal(t, 1, info.Len)
	assert.Equal(t, 4, info.Balance, "four posted values wait like blocked senders")
	assert.Equal(t, []tasklet.ID{0, 0, 0, 0}, info.Senders)
	var got []any
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() > 1 {
			got = append(got, t.Value())
		}
		if len(got) == 5 {
			return t.Exit()
		}
		return t.Recv(ch)
	}))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []any{1, 2, 3, 4, 5}, got, "none lost, in order")
}

func TestPostToClosedChannelIsReported(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	ch := s.NewChannel(0)
	s.Post(ch, 1) // waits as a posted sender
	require.NoError(t, s.Run(t.Context()))
	require.Equal(t, 1, s.Balance(ch))
	require.NoError(t, s.Close(ch))
	s.Post(ch, 2)
	require.NoError(t, s.Run(t.Context()))
	assert.Len(t, handled, 2, "both the dropped waiting value and the late post are reported")
}

func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return strings.Fields(string(buf[:n]))[1]
}

func TestDoRunsOnSchedulerGoroutine(t *testing.T) {
	tt := t
	s := scheduler.New()
	ch := s.NewChannel(0)
	release := s.Hold()
	var stepG, doG string
	var current tasklet.ID = 99
	start := make(chan struct{})
	done := make(chan struct{})
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			stepG = goroutineID()
			close(start)
			return t.Recv(ch)
		},
		func(t *tasklet.T) tasklet.Op {
			assert.Equal(tt, "from Do", t.Value())
			return t.Exit()
		}))
	go func() {
		defer close(done)
		<-start
		s.Do(func(s *scheduler.Scheduler) {
			doG = goroutineID()
			current = s.Current()
			// Any method may be called: hand the value over directly.
			s.PostLocal(ch, "from Do")
		})
		release()
	}()
	require.NoError(t, s.Run(t.Context()))
	<-done
	assert.Equal(t, stepG, doG, "Do ran on the goroutine that runs the steps")
	assert.Equal(t, tasklet.ID(0), current, "between two steps")
}

// ---------------------------------------------------------------------------
// Introspection

func TestIntrospection(t *testing.T) {
	s := scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(2), s.NewChannel(0)
	s.Channel(c3).SetPreference(1)
	recv := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c1) }))
	send := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(c3, "x") }))
	sleep := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Sleep(5 * time.Second) }))
	paused := s.SpawnPaused(yieldN(new(logger), "p", 1))
	run1 := s.Spawn(yieldN(new(logger), "r", 5))
	sel := s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(c1), tasklet.SendCase(c3, 1), tasklet.TimeoutCase(time.Minute))
	}))
	run2 := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { t.SetAtomic(true); return t.Yield() }, yield))
	s.Post(c2, "b1") // fills c2 partly
	require.NoError(t, s.Tick())

	assert.Equal(t, 7, s.Len())
	assert.Equal(t, []tasklet.ID{run1, run2}, s.RunQueue())
	assert.Equal(t, 2, s.RunCount())

	want := []scheduler.Info{
		{ID: recv, State: tasklet.Blocked, Steps: 1, Op: "receiving", Chans: []channel.ID{c1}},
		{ID: send, State: tasklet.Blocked, Steps: 1, Op: "sending", Chans: []channel.ID{c3}},
		{ID: sleep, State: tasklet.Sleeping, Steps: 1, Op: "sleeping", WakeAt: 5 * time.Second},
		{ID: paused, State: tasklet.Paused, Steps: 0},
		{ID: run1, State: tasklet.Runnable, Steps: 1},
		{ID: sel, State: tasklet.Blocked, Steps: 1, Op: "selecting", Chans: []channel.ID{c1, c3}},
		{ID: run2, State: tasklet.Runnable, Steps: 1, Atomic: true},
	}
	infos := s.Tasklets()
	require.Len(t, infos, len(want))
	for i, w := range want {
		got := infos[i]
		assert.Equal(t, w.ID, got.ID)
		assert.Equal(t, w.State, got.State, "%v", w.ID)
		assert.Equal(t, w.Steps, got.Steps, "%v", w.ID)
		assert.Equal(t, w.Op, got.Op, "%v", w.ID)
		assert.Equal(t, w.Chans, got.Chans, "%v", w.ID)
		assert.Equal(t, w.WakeAt, got.WakeAt, "%v", w.ID)
		assert.Equal(t, w.Atomic, got.Atomic, "%v", w.ID)
		assert.Equal(t, "scheduler_test.fn", got.Kind)
		one, err := s.Info(w.ID)
		require.NoError(t, err)
		assert.Equal(t, got, one)
	}

	chans := s.Channels()
	require.Len(t, chans, 3)
	assert.Equal(t, scheduler.ChannelInfo{ID: c1, Cap: 0, Len: 0, Balance: -2, Preference: -1,
		Receivers: []tasklet.ID{recv, sel}}, chans[0])
	assert.Equal(t, scheduler.ChannelInfo{ID: c2, Cap: 2, Len: 1, Balance: 0, Preference: -1}, chans[1])
	assert.Equal(t, scheduler.ChannelInfo{ID: c3, Cap: 0, Len: 0, Balance: 2, Preference: 1,
		Senders: []tasklet.ID{send, sel}}, chans[2])
	one, ok := s.ChannelInfo(c2)
	require.True(t, ok)
	assert.Equal(t, chans[1], one)
	_, ok = s.ChannelInfo(channel.ID(999))
	assert.False(t, ok)
	assert.Equal(t, uint64(6), s.Steps())
	assert.Equal(t, tasklet.ID(0), s.Current())
}

// ---------------------------------------------------------------------------
// World and Restore

// snapshotWorld builds a world of progs and ticks it 3 times, which leaves:
// a blocked sender with its value (S1 on c1), a full buffer and a sender
// blocked on it (B on c2), a sleeper (Z), a select waiter with a timeout
// (W), a paused tasklet (P) and two runnable tasklets in order (Y1, Y2).
func snapshotWorld(t *testing.T) (s *scheduler.Scheduler, rec *record, pausedID tasklet.ID) {
	t.Helper()
	rec = &record{}
	s = scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(2), s.NewChannel(0)
	s.Channel(c3).SetPreference(channel.PreferSender)
	y := instr{Kind: iYield}
	progs := [][]instr{
		{{Kind: iSend, Ch: c1, Val: 101}, {Kind: iSend, Ch: c1, Val: 102}},                                                                   // S1
		{{Kind: iSend, Ch: c2, Val: 201}, {Kind: iSend, Ch: c2, Val: 202}, {Kind: iSend, Ch: c2, Val: 203}, {Kind: iSend, Ch: c2, Val: 204}}, // B
		{{Kind: iSleep, D: 5 * time.Second}, {Kind: iRecv, Ch: c1}, {Kind: iRecv, Ch: c1}, {Kind: iRecv, Ch: c3}},                            // Z
		{{Kind: iSelect, Cases: []tasklet.Case{tasklet.RecvCase(c3), tasklet.TimeoutCase(8 * time.Second)}}, {Kind: iRecv, Ch: c2}},          // W
		{{Kind: iPause}, y, {Kind: iSend, Ch: c3, Val: 301}},                                                                                 // P
		{y, y, y, y, {Kind: iRecv, Ch: c2}, {Kind: iRecv, Ch: c2}},                                                                           // Y1
		{y, y, y, y, y, {Kind: iSend, Ch: c3, Val: 302}, y, {Kind: iRecv, Ch: c2}},                                                           // Y2
	}
	for i, code := range progs {
		id := s.Spawn(&prog{Code: code, Rec: rec})
		if i == 4 {
			pausedID = id
		}
	}
	for range 3 {
		require.NoError(t, s.Tick())
	}
	return s, rec, pausedID
}

func finish(t *testing.T, s *scheduler.Scheduler, paused tasklet.ID) error {
	t.Helper()
	require.NoError(t, s.Insert(paused))
	return s.Run(t.Context())
}

func TestWorldRestoreRoundTrip(t *testing.T) {
	orig, rec, paused := snapshotWorld(t)
	w := orig.World()

	// The snapshot holds every kind of state the round trip must carry.
	byState := map[tasklet.State]int{}
	selectWaiters := 0
	for _, ts := range w.Tasklets {
		byState[ts.State]++
		if ts.State == tasklet.Blocked && !ts.Plain {
			selectWaiters++
		}
	}
	require.Equal(t, map[tasklet.State]int{tasklet.Blocked: 3, tasklet.Sleeping: 1, tasklet.Paused: 1, tasklet.Runnable: 2}, byState)
	require.Equal(t, 1, selectWaiters)
	require.Len(t, w.RunQueue, 2)
	require.Len(t, w.Timers, 2, "the sleep and the select's timeout")
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 1, Case: -1, Value: 101}}, w.Channels[0].Senders)
	require.Equal(t, []any{201, 202}, w.Channels[1].Buffer)
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 2, Case: -1, Value: 203}}, w.Channels[1].Senders)
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 4, Case: 0}}, w.Channels[2].Receivers)

	rec2 := rec.clone()
	restored, err := scheduler.Restore(copyWorld(w, rec2))
	require.NoError(t, err)
	assert.Equal(t, w, restored.World(), "a restored world reads back the same")

	errOrig := finish(t, orig, paused)
	errRestored := finish(t, restored, paused)
	require.NoError(t, errOrig)
	require.NoError(t, errRestored)
	assert.Equal(t, rec.Log, rec2.Log, "same events in the same order")
	assert.Equal(t, rec, rec2)
	assert.Equal(t, orig.Now(), restored.Now())
	assert.Equal(t, orig.Steps(), restored.Steps())
	assert.ElementsMatch(t, []int{101, 102, 201, 202, 203, 204, 301, 302}, rec.Received)
	assert.Zero(t, restored.Len())
}

func TestRestoreRejectsInconsistentWorlds(t *testing.T) {
	s, rec, _ := snapshotWorld(t)
	w := s.World()
	tests := []struct {
		name   string
		mutate func(w *scheduler.World)
	}{
		{"runnable tasklet missing from the run queue", func(w *scheduler.World) { w.RunQueue = w.RunQueue[1:] }},
		{"tasklet queued twice", func(w *scheduler.World) { w.RunQueue = append(w.RunQueue, w.RunQueue[0]) }},
		{"blocked tasklet in the run queue", func(w *scheduler.World) { w.RunQueue = append(w.RunQueue, 1) }},
		{"waiter naming an unknown tasklet", func(w *scheduler.World) { w.Channels[0].Senders[0].Tasklet = 999 }},
		{"waiter naming a runnable tasklet", func(w *scheduler.World) { w.Channels[0].Senders[0].Tasklet = w.RunQueue[0] }},
		{"waiter with a case the tasklet lacks", func(w *scheduler.World) { w.Channels[2].Receivers[0].Case = 5 }},
		{"receiver without a tasklet", func(w *scheduler.World) { w.Channels[2].Receivers[0].Tasklet = 0 }},
		{"duplicate tasklet ID", func(w *scheduler.World) { w.Tasklets = append(w.Tasklets, w.Tasklets[0]) }},
		{"zero tasklet ID", func(w *scheduler.World) { w.Tasklets[0].ID = 0 }},
		{"duplicate channel ID", func(w *scheduler.World) { w.Channels = append(w.Channels, w.Channels[0]) }},
		{"tasklet without behavior", func(w *scheduler.World) { w.Tasklets[0].Behavior = nil }},
		{"dead tasklet", func(w *scheduler.World) { w.Tasklets[0].State = tasklet.Dead }},
		{"buffer over capacity", func(w *scheduler.World) { w.Channels[1].Buffer = append(w.Channels[1].Buffer, 1) }},
		{"timer for an unknown tasklet", func(w *scheduler.World) { w.Timers[0].Tasklet = 999 }},
		{"timer for a runnable tasklet", func(w *scheduler.World) { w.Timers[0].Tasklet = w.RunQueue[0] }},
		{"timer for a case the tasklet lacks", func(w *scheduler.World) { w.Timers[1].Case = 7 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := copyWorld(w, rec.clone())
			tc.mutate(bad)
			_, err := scheduler.Restore(bad)
			require.Error(t, err)
			assert.ErrorIs(t, err, scheduler.ErrInvalidRestore)
		})
	}
	_, err := scheduler.Restore(copyWorld(w, rec.clone()))
	assert.NoError(t, err, "the unmodified world restores")
}

func TestRestoreMovesVirtualClock(t *testing.T) {
	s := scheduler.New()
	s.Spawn(&prog{Code: []instr{{Kind: iSleep, D: 3 * time.Second}, {Kind: iYield}}, Rec: &record{}})
	require.NoError(t, s.Tick())
	s.Clock().(*scheduler.VirtualClock).Advance(time.Second)
	w := s.World()
	require.Equal(t, time.Second, w.Clock)

	r, err := scheduler.Restore(copyWorld(w, &record{}))
	require.NoError(t, err)
	assert.Equal(t, time.Second, r.Now(), "a default clock starts at the world's time")

	vc := scheduler.NewVirtualClock(0)
	r, err = scheduler.Restore(copyWorld(w, &record{}), scheduler.WithClock(vc))
	require.NoError(t, err)
	assert.Equal(t, time.Second, vc.Now(), "a given virtual clock is moved to the world's time")
	require.NoError(t, r.Run(t.Context()))
	assert.Equal(t, 3*time.Second, vc.Now())
}

// ---------------------------------------------------------------------------
// Change tracking

func TestTakeChanges(t *testing.T) {
	s := scheduler.New(scheduler.WithChangeTracking())
	c := s.NewChannel(0)
	idle := s.NewChannel(0)
	a := s.Spawn(yieldN(new(logger), "a", 1))
	b := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Recv(c)
		}
		t.Err()
		return t.Exit()
	}))
	ch := s.TakeChanges()
	assert.Equal(t, []tasklet.ID{a, b}, ch.Tasklets, "new tasklets")
	assert.Equal(t, []channel.ID{c, idle}, ch.Channels, "new channels")
	assert.Empty(t, ch.DeadTasklets)

	require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
	ch = s.TakeChanges()
	assert.Equal(t, []tasklet.ID{b}, ch.Tasklets, "b stepped and is alive")
	assert.Equal(t, []tasklet.ID{a}, ch.DeadTasklets, "a finished")
	assert.Equal(t, []channel.ID{c}, ch.Channels, "only the channel b blocked on changed")
	assert.Empty(t, ch.DeadChannels)

	ch = s.TakeChanges()
	assert.Empty(t, ch.Tasklets, "nothing happened since")
	assert.Empty(t, ch.Channels)
	assert.Empty(t, ch.DeadTasklets)

	require.NoError(t, s.Close(c))
	require.NoError(t, s.Run(t.Context()))
	ch = s.TakeChanges()
	assert.Empty(t, ch.Tasklets)
	assert.Equal(t, []tasklet.ID{b}, ch.DeadTasklets)
	assert.Empty(t, ch.Channels, "the closed channel is gone")
	assert.Equal(t, []channel.ID{c}, ch.DeadChannels)

	p := s.SpawnPaused(yieldN(new(logger), "p", 1))
	s.TakeChanges()
	_, err := s.Release(p)
	require.NoError(t, err)
	assert.Equal(t, []tasklet.ID{p}, s.TakeChanges().DeadTasklets, "a released tasklet left")
}

// ---------------------------------------------------------------------------
// Options and the clock

func TestWithTimeslice(t *testing.T) {
	var l logger
	s := scheduler.New(scheduler.WithTimeslice(3))
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		l.add("A%d", t.Steps())
		if t.Steps() == 7 {
			return t.Exit()
		}
		return t.Continue()
	}))
	s.Spawn(yieldN(&l, "B", 3))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"A1", "A2", "A3", "B0", "A4", "A5", "A6", "B1", "A7", "B2"}, l.entries,
		"a busy tasklet goes to the back after 3 consecutive steps")
}

func TestWithKindNames(t *testing.T) {
	s := scheduler.New(scheduler.WithKindNames(func(b tasklet.Behavior) string {
		if _, ok := b.(*panicker); ok {
			return "game.Panicker"
		}
		return ""
	}))
	p := s.Spawn(&panicker{At: 1})
	other := s.Spawn(yieldN(new(logger), "x", 1))
	err := s.Run(t.Context())
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, p, te.ID)
	assert.Equal(t, "game.Panicker", te.Kind)
	assert.Equal(t, "scheduler_test.fn", s.KindOf(s.Behavior(other)), "an empty name falls back to the Go type")
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	s := scheduler.New()
	ctx, cancel := context.WithCancel(t.Context())
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1000 {
			cancel()
		}
		return t.Yield() // runs forever
	}))
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op { return t.Yield() })) // and so does this
	assert.ErrorIs(t, s.Run(ctx), context.Canceled)
	assert.Equal(t, 2, s.Len())
}

func TestRealClockSleep(t *testing.T) {
	s := scheduler.New(scheduler.WithClock(scheduler.NewRealClock(time.Hour)))
	var woke time.Duration
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Millisecond) },
		func(t *tasklet.T) tasklet.Op { woke = t.Now(); return t.Exit() }))
	require.NoError(t, s.Run(t.Context()), "Run waits for a real timer")
	assert.GreaterOrEqual(t, woke, time.Hour+2*time.Millisecond)
}

func TestVirtualClock(t *testing.T) {
	c := scheduler.NewVirtualClock(5 * time.Second)
	assert.Equal(t, 5*time.Second, c.Now())
	c.Advance(time.Second)
	assert.Equal(t, 6*time.Second, c.Now())
	c.Set(4 * time.Second)
	assert.Equal(t, 6*time.Second, c.Now(), "Set never moves backwards")
	c.Set(10 * time.Second)
	assert.Equal(t, 10*time.Second, c.Now())
}
