package scheduler_test

// The host's side of channels and of choosing who runs next (Stackless's
// main tasklet calling ch.receive(), ch.send() and tasklet.run()).

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// sendAfter logs and yields n times, then sends v on ch, then logs the
// outcome and exits.
func sendAfter(l *logger, name string, n int, ch channel.ID, v any) tasklet.Behavior {
	var fs []func(t *tasklet.T) tasklet.Op
	for i := range n {
		fs = append(fs, logStep(l, fmt.Sprintf("%s%d", name, i), yield))
	}
	fs = append(fs, func(t *tasklet.T) tasklet.Op { return t.Send(ch, v) },
		func(t *tasklet.T) tasklet.Op {
			l.add("%s sent: %v", name, t.Err())
			return t.Exit()
		})
	return steps(fs...)
}

// recvAfter logs and yields n times, then receives on ch, then logs what
// it got and exits.
func recvAfter(l *logger, name string, n int, ch channel.ID) tasklet.Behavior {
	var fs []func(t *tasklet.T) tasklet.Op
	for i := range n {
		fs = append(fs, logStep(l, fmt.Sprintf("%s%d", name, i), yield))
	}
	fs = append(fs, func(t *tasklet.T) tasklet.Op { return t.Recv(ch) },
		func(t *tasklet.T) tasklet.Op {
			l.add("%s got %v %v", name, t.Value(), t.Err())
			return t.Exit()
		})
	return steps(fs...)
}

func TestHostRecvTakesAReadyValueAtOnce(t *testing.T) {
	tests := []struct {
		name string
		pref int
	}{
		{"prefer receiver", channel.PreferReceiver},
		{"prefer neither", channel.PreferNeither},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			s.Channel(ch).SetPreference(tc.pref)
			var l logger
			s.Spawn(sendAfter(&l, "s", 0, ch, "v"))
			s.Spawn(yieldN(&l, "o", 2))
			require.NoError(t, s.Tick(), "the sender blocks in its first step")
			l.entries = nil
			require.Equal(t, 1, s.Balance(ch))

			v, err := s.Recv(t.Context(), ch)
			require.NoError(t, err)
			assert.Equal(t, "v", v)
			assert.Empty(t, l.entries, "the host continues without a switch")
			assert.Zero(t, s.Balance(ch))
			assert.Equal(t, 2, s.RunCount(), "the sender is runnable again")
		})
	}

	s := scheduler.New()
	buf := s.NewChannel(2)
	require.NoError(t, s.Send(t.Context(), buf, 1), "room in the buffer: at once")
	require.NoError(t, s.Send(t.Context(), buf, 2))
	v, err := s.Recv(t.Context(), buf)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	v, err = s.Recv(t.Context(), buf)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

func TestHostRecvWaitsWhileTaskletsRun(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var l logger
	s.Spawn(sendAfter(&l, "s", 2, ch, 42))
	s.Spawn(yieldN(&l, "o", 5))
	v, err := s.Recv(t.Context(), ch)
	require.NoError(t, err)
	assert.Equal(t, 42, v)
	// The sender prefers the receiver (the default): the host goes on at
	// once, before the sender's next step and the other tasklet's.
	assert.Equal(t, []string{"s0", "o0", "s1", "o1"}, l.entries)
	assert.Zero(t, s.Balance(ch))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"s0", "o0", "s1", "o1", "o2", "s sent: <nil>", "o3", "o4"}, l.entries)
}

func TestHostRecvIsFIFOWithTasklets(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var l logger
	s.Spawn(recvAfter(&l, "r", 0, ch)) // queued before the host
	require.NoError(t, s.Tick())
	s.Spawn(sendAfter(&l, "s1", 0, ch, 1))
	s.Spawn(sendAfter(&l, "s2", 1, ch, 2))
	v, err := s.Recv(t.Context(), ch)
	require.NoError(t, err)
	assert.Equal(t, 2, v, "the tasklet that waited first got the first value")
	assert.Contains(t, l.entries, "r got 1 <nil>")
}

func TestHostRecvErrors(t *testing.T) {
	t.Run("an error sent with SendErr", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, errBoom) }))
		_, err := s.Recv(t.Context(), ch)
		assert.ErrorIs(t, err, errBoom)
	})
	t.Run("closed while waiting", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op {
			t.Close(ch)
			return t.Exit()
		}))
		_, err := s.Recv(t.Context(), ch)
		assert.ErrorIs(t, err, channel.ErrClosed)
		_, err = s.Recv(t.Context(), ch)
		assert.ErrorIs(t, err, channel.ErrClosed, "a closed, drained channel")
	})
	t.Run("no such channel", func(t *testing.T) {
		s := scheduler.New()
		_, err := s.Recv(t.Context(), 99)
		assert.ErrorIs(t, err, scheduler.ErrNoChannel)
		err = s.Send(t.Context(), 99, 1)
		assert.ErrorIs(t, err, scheduler.ErrNoChannel)
	})
	t.Run("a channel of another node", func(t *testing.T) {
		s := scheduler.New()
		_, err := s.Recv(t.Context(), channel.ID(3<<tasklet.NodeBits|1))
		assert.ErrorIs(t, err, scheduler.ErrRemoteChannel)
		assert.ErrorContains(t, err, "own node")
	})
}

func TestHostDeadlock(t *testing.T) {
	s := scheduler.New()
	ch, other := s.NewChannel(0), s.NewChannel(0)
	stuck := s.Spawn(recvAfter(new(logger), "r", 1, other))
	_, err := s.Recv(t.Context(), ch)
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	var de *scheduler.DeadlockError
	require.ErrorAs(t, err, &de)
	require.Len(t, de.Blocked, 2)
	assert.Equal(t, scheduler.Waiting{ID: 0, Kind: "host", Op: "receiving", Chans: []channel.ID{ch}}, de.Blocked[0])
	assert.Equal(t, stuck, de.Blocked[1].ID)
	assert.Zero(t, s.Balance(ch), "the host stopped waiting")

	err = s.Send(t.Context(), other, "late")
	require.NoError(t, err, "the host can go on: the stuck tasklet takes the value")
	require.NoError(t, s.Run(t.Context()))

	// Everything finished while the host waits: a deadlock too (Stackless:
	// "the main tasklet is sending without a receiver available").
	s.Spawn(yieldN(new(logger), "x", 3))
	err = s.Send(t.Context(), ch, 1)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, []scheduler.Waiting{{ID: 0, Kind: "host", Op: "sending", Chans: []channel.ID{ch}}}, de.Blocked)
	assert.Zero(t, s.Balance(ch))
	assert.Zero(t, s.Len())
}

func TestHostWaitEndsWithContext(t *testing.T) {
	for _, send := range []bool{false, true} {
		t.Run(fmt.Sprintf("send=%v", send), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(0)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			spin := 0
			s.Spawn(fn(func(t *tasklet.T) tasklet.Op { // busy forever; cancels after a while
				spin++
				if spin == 10 {
					cancel()
				}
				return t.Yield()
			}))
			var err error
			if send {
				err = s.Send(ctx, ch, "lost")
			} else {
				_, err = s.Recv(ctx, ch)
			}
			require.ErrorIs(t, err, context.Canceled)
			assert.Zero(t, s.Balance(ch), "the host stopped waiting")
			assert.Equal(t, 1, s.RunCount())

			// The channel works on, without the host's entry.
			var l logger
			if send {
				s.Spawn(recvAfter(&l, "r", 0, ch))
				s.Spawn(sendAfter(&l, "s", 0, ch, "real"))
			} else {
				s.Spawn(sendAfter(&l, "s", 0, ch, "real"))
				s.Spawn(recvAfter(&l, "r", 0, ch))
			}
			_, _ = s.RunBudget(t.Context(), 50, scheduler.Total)
			assert.Contains(t, l.entries, "r got real <nil>", "nothing stale was delivered")
		})
	}
}

func TestHostWaitReturnsATaskletFailure(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	bad := s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	_, err := s.Recv(t.Context(), ch)
	require.ErrorIs(t, err, errBoom, "Stackless raises a tasklet's error in the blocked main tasklet")
	var te *scheduler.TaskletError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, bad, te.ID)
	assert.Zero(t, s.Balance(ch))
}

func TestHostTransferWinsOverAFailure(t *testing.T) {
	// The sender prefers to go on: the host is made runnable, then the
	// sender fails before the host's turn. The host got its value; the
	// failure comes with the next call.
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Channel(ch).SetPreference(channel.PreferSender)
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "v") },
		func(t *tasklet.T) tasklet.Op { return t.Fail(errBoom) }))
	v, err := s.Recv(t.Context(), ch)
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.ErrorIs(t, s.Run(t.Context()), errBoom, "the failure is not lost")
}

func TestHostSend(t *testing.T) {
	t.Run("to a blocked receiver: it runs at once, the host after the queue", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		var l logger
		s.Spawn(recvAfter(&l, "r", 0, ch))
		s.Spawn(yieldN(&l, "o", 3))
		require.NoError(t, s.Tick())
		l.entries = nil
		require.NoError(t, s.Send(t.Context(), ch, 123))
		assert.Equal(t, []string{"r got 123 <nil>", "o1"}, l.entries)
	})
	t.Run("waits until a receiver takes it", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		var l logger
		s.Spawn(recvAfter(&l, "r", 2, ch))
		require.NoError(t, s.Send(t.Context(), ch, "x"))
		// The receiver takes it and goes on (receive does not switch by
		// default); the host goes on at its turn.
		assert.Equal(t, []string{"r0", "r1", "r got x <nil>"}, l.entries)
		assert.Zero(t, s.Balance(ch))
		assert.Zero(t, s.Len())
	})
	t.Run("closed while waiting", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		s.Spawn(steps(yield, func(t *tasklet.T) tasklet.Op {
			t.Close(ch)
			return t.Exit()
		}))
		assert.ErrorIs(t, s.Send(t.Context(), ch, 1), channel.ErrClosed)
		assert.ErrorIs(t, s.Send(t.Context(), ch, 1), channel.ErrClosed, "already closed")
	})
}

func TestHostOpsRefuseInsideARun(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(1)
	var fromStep, fromDo error
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		fromStep = s.Send(context.Background(), ch, 1)
		return t.Exit()
	}))
	s.Do(func(s *scheduler.Scheduler) { _, fromDo = s.Recv(context.Background(), ch) })
	require.NoError(t, s.Run(t.Context()))
	assert.ErrorIs(t, fromStep, scheduler.ErrRunning)
	assert.ErrorIs(t, fromDo, scheduler.ErrRunning)
	assert.Zero(t, s.Channel(ch).Len(), "nothing was sent")
}

func TestHostWaitIsNotPartOfTheWorld(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var l logger
	s.Spawn(yieldN(&l, "o", 2))
	var w *scheduler.World
	var info scheduler.ChannelInfo
	s.Do(func(s *scheduler.Scheduler) { w, info = s.World(), mustChannelInfo(s, ch) })
	_, err := s.Recv(t.Context(), ch)
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	require.NotNil(t, w, "the snapshot was taken while the host waited")
	assert.Equal(t, []tasklet.ID{0}, info.Receivers, "introspection shows the host as 0")
	assert.Equal(t, -1, info.Balance)
	require.Len(t, w.Channels, 1)
	assert.Empty(t, w.Channels[0].Receivers, "the snapshot leaves the host out")
	r, err := scheduler.Restore(copyWorld(w, new(record)))
	require.NoError(t, err)
	assert.Zero(t, r.Balance(ch))

	// The host made runnable waits in the run queue for its turn: the run
	// queue and the snapshot taken then leave it out too.
	s = scheduler.New()
	ch = s.NewChannel(0)
	var queue []tasklet.ID
	count := -1
	s.Spawn(recvAfter(&l, "r", 0, ch))
	require.NoError(t, s.Tick())
	o := s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		s.Do(func(s *scheduler.Scheduler) { queue, count, w = s.RunQueue(), s.RunCount(), s.World() })
		return t.Yield()
	}))
	require.NoError(t, s.Send(t.Context(), ch, 1), "the receiver runs at once, then o, then the host")
	assert.Equal(t, []tasklet.ID{o}, queue, "the host, queued before o, is left out")
	assert.Equal(t, 1, count, "o; not the host")
	assert.Equal(t, []tasklet.ID{o}, w.RunQueue)
	_, err = scheduler.Restore(copyWorld(w, new(record)))
	require.NoError(t, err)
}

func mustChannelInfo(s *scheduler.Scheduler, ch channel.ID) scheduler.ChannelInfo {
	in, ok := s.ChannelInfo(ch)
	if !ok {
		panic(fmt.Sprintf("no channel %v", ch))
	}
	return in
}

func TestRunNext(t *testing.T) {
	t.Run("moves a runnable tasklet to the front", func(t *testing.T) {
		s := scheduler.New()
		var l logger
		s.Spawn(yieldN(&l, "a", 2))
		s.Spawn(yieldN(&l, "b", 2))
		c := s.Spawn(yieldN(&l, "c", 2))
		require.NoError(t, s.RunNext(c))
		assert.Equal(t, []tasklet.ID{c, 1, 2}, s.RunQueue())
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"c0", "a0", "b0", "c1", "a1", "b1"}, l.entries)
	})
	t.Run("inserts a paused tasklet at the front", func(t *testing.T) {
		s := scheduler.New()
		var l logger
		s.Spawn(yieldN(&l, "a", 1))
		p := s.SpawnPaused(yieldN(&l, "p", 1))
		require.NoError(t, s.RunNext(p))
		require.NoError(t, s.Tick())
		assert.Equal(t, []string{"p0", "a0"}, l.entries)
	})
	t.Run("from a step: right after it, then the caller (Stackless run)", func(t *testing.T) {
		s := scheduler.New()
		var l logger
		var c tasklet.ID
		s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
			l.add("a0")
			if err := s.RunNext(c); err != nil {
				l.add("error %v", err)
			}
			return t.Continue()
		}, logStep(&l, "a1", yield)))
		s.Spawn(yieldN(&l, "b", 1))
		c = s.Spawn(yieldN(&l, "c", 1))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"a0", "c0", "a1", "b0"}, l.entries)
	})
	t.Run("from a step, then Pause: Stackless switch", func(t *testing.T) {
		s := scheduler.New()
		var l logger
		var c tasklet.ID
		a := s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
			l.add("a0")
			if err := s.RunNext(c); err != nil {
				l.add("error %v", err)
			}
			return t.Pause()
		}, logStep(&l, "a1", exit)))
		s.Spawn(yieldN(&l, "b", 1))
		c = s.Spawn(yieldN(&l, "c", 1))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"a0", "c0", "b0"}, l.entries)
		in, err := s.Info(a)
		require.NoError(t, err)
		assert.Equal(t, tasklet.Paused, in.State, "the caller waits for an Insert")
	})
	t.Run("refusals", func(t *testing.T) {
		s := scheduler.New()
		ch := s.NewChannel(0)
		blocked := s.Spawn(recvAfter(new(logger), "r", 0, ch))
		sleeper := s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Sleep(1e9) }))
		done := s.Spawn(steps())
		require.NoError(t, s.Tick())
		assert.ErrorIs(t, s.RunNext(blocked), scheduler.ErrBlocked)
		assert.ErrorIs(t, s.RunNext(sleeper), scheduler.ErrBlocked)
		assert.ErrorIs(t, s.RunNext(done), scheduler.ErrDead)
		assert.ErrorIs(t, s.RunNext(999), scheduler.ErrNoTasklet)
		assert.True(t, errors.Is(s.RunNext(blocked), scheduler.ErrBlocked))
	})
}

func TestWaitOfAndBehavior(t *testing.T) {
	s := scheduler.New()
	ch, other := s.NewChannel(0), s.NewChannel(0)
	r := s.Spawn(recvAfter(new(logger), "r", 0, ch))
	sel := s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		return t.Select(tasklet.RecvCase(other), tasklet.TimeoutCase(time.Hour))
	}))
	wk := &worker{}
	runner := s.Spawn(wk)
	require.NoError(t, s.Tick())

	w, ok := s.WaitOf(r)
	require.True(t, ok)
	assert.True(t, w.Plain)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(ch)}, w.Cases)
	assert.NotZero(t, w.Seq)

	w, ok = s.WaitOf(sel)
	require.True(t, ok)
	assert.False(t, w.Plain)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(other), tasklet.TimeoutCase(time.Hour)}, w.Cases)

	_, ok = s.WaitOf(runner)
	assert.False(t, ok, "a runnable tasklet waits on nothing")
	_, ok = s.WaitOf(999)
	assert.False(t, ok)

	assert.Same(t, wk, s.Behavior(runner), "the live behavior, not a copy")
	assert.Equal(t, 1, wk.Jobs)
	assert.NotNil(t, s.Behavior(r))
	assert.Nil(t, s.Behavior(999))
	require.NoError(t, s.Kill(r, false))
	require.NoError(t, s.Tick())
	assert.Nil(t, s.Behavior(r), "a finished tasklet has none")
}
