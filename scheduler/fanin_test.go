package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// A send on the channel a TryRecvMany drained takes burst's fan-in path
// (fanin.go) unless a hook, value check or tracking needs opSend; these
// tests hold the two paths to the same outcome.

// fanLogSender sends N values on Ch, logging each step it runs after the
// first (each wake, or each step it went on).
type fanLogSender struct {
	Name string
	Ch   channel.ID
	N, I int
	log  *[]string
}

func (f *fanLogSender) Step(t *tasklet.T) tasklet.Op {
	if f.I > 0 {
		*f.log = append(*f.log, fmt.Sprintf("%s step %d: %v", f.Name, f.I, t.Err()))
	}
	if f.I == f.N {
		return t.Exit()
	}
	f.I++
	return t.Send(f.Ch, fmt.Sprintf("%s.%d", f.Name, f.I))
}

// fanLogServer drains Ch M values at a time with TryRecvMany, Recv when it
// is empty, logging what it took.
type fanLogServer struct {
	Ch      channel.ID
	M, Left int
	log     *[]string
}

func (f *fanLogServer) Step(t *tasklet.T) tasklet.Op {
	if v := t.Value(); v != nil {
		*f.log = append(*f.log, fmt.Sprintf("recv %v", v))
		f.Left--
	}
	batch := make([]any, f.M)
	for f.Left > 0 {
		n, err := t.TryRecvMany(f.Ch, batch)
		if err != nil {
			return t.Fail(err)
		}
		*f.log = append(*f.log, fmt.Sprintf("drained %v", batch[:n]))
		f.Left -= n
		if n < f.M {
			break
		}
	}
	if f.Left == 0 {
		return t.Exit()
	}
	return t.Recv(f.Ch)
}

func fanInLog(t *testing.T, seed uint64, general bool) []string {
	rng := rand.New(rand.NewPCG(seed, 13))
	var opts []scheduler.Option
	if general { // a channel hook makes every send take opSend
		opts = append(opts, scheduler.WithChannelHook(func(scheduler.ChannelEvent) {}))
	}
	s := scheduler.New(opts...)
	ch := s.NewChannel([]int{1, 2, 3, 8}[rng.IntN(4)])
	s.Channel(ch).SetPreference(rng.IntN(3) - 1)
	var log []string
	total := 0
	srv := &fanLogServer{Ch: ch, M: 1 + rng.IntN(6), log: &log}
	s.Spawn(srv)
	for i := range 1 + rng.IntN(6) {
		n := rng.IntN(7)
		total += n
		s.Spawn(&fanLogSender{Name: fmt.Sprint("s", i), Ch: ch, N: n, log: &log})
	}
	srv.Left = total
	err := s.Run(context.Background())
	log = append(log, fmt.Sprintf("run: %v, steps %d, switches %d, ops %d", err, s.Steps(), s.Switches(), s.ChannelOps()))
	return log
}

func TestFanInSendPathIsTheGeneralPath(t *testing.T) {
	for seed := range uint64(300) {
		fast := fanInLog(t, seed, false)
		general := fanInLog(t, seed, true)
		require.Equal(t, general, fast, "seed %d", seed)
	}
}

// fanWorld is a server that drained ch once, leaving it the fill channel,
// and a sender whose behavior is send.
func fanWorld(t *testing.T, send tasklet.Behavior, opts ...scheduler.Option) (*scheduler.Scheduler, channel.ID) {
	s := scheduler.New(opts...)
	ch := s.NewChannel(4)
	s.Channel(ch).SetPreference(channel.PreferSender)
	s.PostLocal(ch, "first") // the channel has its buffer, as a fan-in's does
	s.Spawn(steps(func(t *tasklet.T) tasklet.Op {
		_, err := t.TryRecvMany(ch, make([]any, 2))
		if err != nil {
			return t.Fail(err)
		}
		return t.Exit()
	}))
	require.NoError(t, s.Run(context.Background()))
	send.(*fn2).ch = ch
	s.Spawn(send)
	return s, ch
}

// fn2 sends v on ch, with its block trap set if trap, and records the
// error its next step sees.
type fn2 struct {
	ch   channel.ID
	v    any
	trap bool
	i    int
	seen error
}

func (f *fn2) Step(t *tasklet.T) tasklet.Op {
	f.i++
	if f.i == 1 {
		t.SetBlockTrap(f.trap)
		return t.Send(f.ch, f.v)
	}
	f.seen = t.Err()
	return t.Exit()
}

func TestFanInSendKeepsTheValueCheck(t *testing.T) {
	refused := errors.New("refused")
	check := scheduler.WithValueCheck(func(v any) error {
		if v == "bad" {
			return refused
		}
		return nil
	})
	f := &fn2{v: "bad"}
	s, ch := fanWorld(t, f, check)
	require.NoError(t, s.Run(context.Background()))
	assert.ErrorIs(t, f.seen, refused, "the check refuses a send on the drained channel too")
	assert.Zero(t, s.Channel(ch).Len(), "and the value never entered the buffer")
}

func TestFanInSendAfterHooksAreSet(t *testing.T) {
	refused := errors.New("refused")
	f := &fn2{v: "bad"}
	s, ch := fanWorld(t, f)
	s.SetValueCheck(func(v any) error { return refused })
	require.NoError(t, s.Run(context.Background()))
	assert.ErrorIs(t, f.seen, refused, "a check set after the drain still sees the send")
	assert.Zero(t, s.Channel(ch).Len())

	g := &fn2{v: 1}
	s, ch = fanWorld(t, g)
	var events []scheduler.ChannelEvent
	s.SetChannelHook(func(e scheduler.ChannelEvent) { events = append(events, e) })
	require.NoError(t, s.Run(context.Background()))
	require.NoError(t, g.seen)
	require.Len(t, events, 1, "a hook set after the drain sees the send")
	assert.Equal(t, []scheduler.ChannelEvent{{Chan: ch, Tasklet: events[0].Tasklet, Sending: true}}, events,
		"a hook set after the drain sees the send")
}

func TestFanInSendOnAClosedChannel(t *testing.T) {
	f := &fn2{v: 1}
	s, ch := fanWorld(t, f)
	s.PostLocal(ch, 0) // buffered: the closed channel stays
	require.NoError(t, s.Close(ch))
	require.NoError(t, s.Run(context.Background()))
	assert.ErrorIs(t, f.seen, channel.ErrClosed, "a send on the drained channel once it is closed")
	assert.Equal(t, []any{0}, s.Channel(ch).Buffer(), "and only what was there before the close")
}

func TestFanInSendOnAFullBufferKeepsTheBlockTrap(t *testing.T) {
	f := &fn2{v: "late", trap: true}
	s, ch := fanWorld(t, f)
	for i := range 4 { // the buffer's capacity: the send finds it full
		s.PostLocal(ch, i)
	}
	require.NoError(t, s.Run(context.Background()), "the trapped send does not block")
	assert.ErrorIs(t, f.seen, tasklet.ErrBlockTrap, "a send on the full drained channel is trapped")
	assert.Equal(t, []any{0, 1, 2, 3}, s.Channel(ch).Buffer(), "and its value never entered the channel")
	assert.Zero(t, s.Balance(ch), "nor does it wait as a sender")
}

func TestFanInSendOnAFullBufferWaits(t *testing.T) {
	f := &fn2{v: "late"}
	s, ch := fanWorld(t, f)
	for i := range 4 {
		s.PostLocal(ch, i)
	}
	require.ErrorIs(t, s.Run(context.Background()), scheduler.ErrDeadlock, "the sender waits: nothing drains")
	assert.Equal(t, 1, s.Balance(ch), "one sender waits on the channel")
	assert.Equal(t, []any{0, 1, 2, 3}, s.Channel(ch).Buffer())
	assert.Zero(t, f.i-1, "its next step has not run")
}

// A Bomb that enters the drained channel by the fan-in's send, buffered or
// with its sender waiting, still ends the next drain's batch: the drain
// scans for one only when a send noted it.
func TestFanInSendOfABombEndsTheDrain(t *testing.T) {
	boom := errors.New("boom")
	for _, full := range []bool{false, true} {
		f := &fn2{v: channel.Bomb{Err: boom}}
		s, ch := fanWorld(t, f)
		if full {
			for i := range 4 { // the Bomb's sender waits behind these
				s.PostLocal(ch, i)
			}
		}
		s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "after") }))
		_ = s.Run(context.Background()) // full: the senders wait, a deadlock for now
		dst := make([]any, 8)
		n, err := s.TryRecvMany(ch, dst)
		want := []any{}
		if full {
			want = []any{0, 1, 2, 3}
		}
		assert.ErrorIs(t, err, boom, "full %v: the Bomb ends the batch", full)
		assert.Equal(t, want, dst[:n], "full %v: with the values before it", full)
		require.NoError(t, s.Run(context.Background()))
		n, err = s.TryRecvMany(ch, dst)
		require.NoError(t, err)
		assert.Equal(t, []any{"after"}, dst[:n], "full %v: the value after it stays for the next drain", full)
	}
}
