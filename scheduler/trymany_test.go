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

// fill makes a channel of capacity 2 holding a and b, with three tasklets
// blocked sending c, d and e in that order; each logs when it wakes.
func fill(t *testing.T, log *[]string) (*scheduler.Scheduler, channel.ID) {
	s := scheduler.New()
	ch := s.NewChannel(2)
	require.NoError(t, s.Send(context.Background(), ch, "a"))
	require.NoError(t, s.Send(context.Background(), ch, "b"))
	for _, v := range []string{"c", "d", "e"} {
		s.Spawn(tryTasklet(
			func(t *tasklet.T) tasklet.Op { return t.Send(ch, v) },
			func(t *tasklet.T) tasklet.Op {
				*log = append(*log, fmt.Sprintf("sender of %s woke: %v", v, t.Err()))
				return t.Exit()
			}))
	}
	require.NoError(t, s.Tick())
	require.Equal(t, 3, s.Channel(ch).Balance(), "three senders wait on the full buffer")
	return s, ch
}

func TestTryRecvManyTakesTheBufferThenTheSendersInOrder(t *testing.T) {
	var log []string
	s, ch := fill(t, &log)
	dst := make([]any, 3)
	n, err := s.TryRecvMany(ch, dst)
	require.NoError(t, err)
	assert.Equal(t, []any{"a", "b", "c"}, dst[:n], "oldest first: the buffer, then the first sender")
	assert.Equal(t, []any{"d", "e"}, s.Channel(ch).Buffer(), "each value taken from the buffer let a blocked sender's value in")
	assert.Equal(t, 0, s.Channel(ch).Balance(), "no sender waits any more")

	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"sender of c woke: <nil>", "sender of d woke: <nil>", "sender of e woke: <nil>"}, log,
		"the senders wake in the order they blocked")

	n, err = s.TryRecvMany(ch, make([]any, 8))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "what is left, fewer than dst holds")
	n, err = s.TryRecvMany(ch, make([]any, 8))
	assert.NoError(t, err)
	assert.Zero(t, n, "an empty open channel: nothing, and no error")
}

func TestTryRecvManyFromARendezvousChannel(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	for i := range 3 {
		s.Spawn(tryTasklet(func(t *tasklet.T) tasklet.Op { return t.Send(ch, i) }))
	}
	require.NoError(t, s.Tick())
	dst := make([]any, 2)
	n, err := s.TryRecvMany(ch, dst)
	require.NoError(t, err)
	assert.Equal(t, []any{0, 1}, dst[:n], "straight from the senders, in order")
	assert.Equal(t, 1, s.Channel(ch).Balance(), "the third still waits")
	assert.Zero(t, s.Channel(ch).Len(), "a rendezvous channel buffers nothing")
}

func TestTryRecvManyStopsAtASentError(t *testing.T) {
	boom := errors.New("boom")
	s := scheduler.New()
	ch := s.NewChannel(4)
	s.Spawn(tryTasklet(
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 1) },
		func(t *tasklet.T) tasklet.Op { return t.SendErr(ch, boom) },
		func(t *tasklet.T) tasklet.Op { return t.Send(ch, 2) }))
	require.NoError(t, s.Run(context.Background()))

	dst := make([]any, 4)
	n, err := s.TryRecvMany(ch, dst)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []any{1}, dst[:n], "the values sent before the error come with it")
	assert.Equal(t, []any{nil, nil, nil, nil}[n:], dst[n:], "nothing of what stays buffered is left in dst")
	n, err = s.TryRecvMany(ch, dst)
	assert.NoError(t, err)
	assert.Equal(t, []any{2}, dst[:n], "the value after the error stays for the next call")
}

func TestTryRecvManyOnClosedAndMissingChannels(t *testing.T) {
	var log []string
	s, ch := fill(t, &log)
	require.NoError(t, s.Close(ch))
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"sender of c woke: channel closed", "sender of d woke: channel closed",
		"sender of e woke: channel closed"}, log)

	dst := make([]any, 8)
	n, err := s.TryRecvMany(ch, dst)
	assert.NoError(t, err)
	assert.Equal(t, []any{"a", "b"}, dst[:n], "buffered values drain after close")
	n, err = s.TryRecvMany(ch, dst)
	assert.Zero(t, n)
	assert.ErrorIs(t, err, channel.ErrClosed)

	_, err = s.TryRecvMany(999, dst)
	assert.ErrorIs(t, err, scheduler.ErrNoChannel)
}

func TestTryRecvManyWakesASelectingSender(t *testing.T) {
	s := scheduler.New()
	ch, other := s.NewChannel(0), s.NewChannel(0)
	var chosen int
	s.Spawn(tryTasklet(
		func(t *tasklet.T) tasklet.Op {
			return t.Select(tasklet.RecvCase(other), tasklet.SendCase(ch, "x"))
		},
		func(t *tasklet.T) tasklet.Op {
			chosen = t.Chosen()
			return t.Exit()
		}))
	require.NoError(t, s.Tick())
	dst := make([]any, 2)
	n, err := s.TryRecvMany(ch, dst)
	require.NoError(t, err)
	assert.Equal(t, []any{"x"}, dst[:n])
	assert.Zero(t, s.Channel(other).Balance(), "the select's other case left its queue")
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, 1, chosen, "the send case fired")
}

// TestTryRecvManyIsTryRecvInALoop runs random worlds twice, draining the
// channel once with TryRecvMany and once with as many TryRecv calls, and
// requires the same history: the values and errors taken, the order the
// senders wake in, and everything that happens after.
func TestTryRecvManyIsTryRecvInALoop(t *testing.T) {
	for seed := range uint64(300) {
		many := drainWorld(t, seed, true)
		loop := drainWorld(t, seed, false)
		require.Equal(t, loop, many, "seed %d", seed)
	}
}

// drainWorld builds the world of seed: senders of plain values, errors and
// select cases (and values posted from outside) filling a small channel,
// perhaps closed; then a drainer takes up to m values in one step and
// receives the rest one by one. It returns the log of the run.
func drainWorld(t *testing.T, seed uint64, many bool) []string {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := scheduler.New()
	ch, other := s.NewChannel([]int{0, 1, 2, 4}[rng.IntN(4)]), s.NewChannel(0)
	s.Channel(ch).SetPreference(rng.IntN(3) - 1)
	var log []string
	total := 0
	for i := range 1 + rng.IntN(5) {
		vals := make([]any, 1+rng.IntN(4))
		for j := range vals {
			vals[j] = fmt.Sprintf("s%d.%d", i, j)
			if rng.IntN(6) == 0 {
				vals[j] = fmt.Errorf("e%d.%d", i, j)
			}
		}
		total += len(vals)
		s.Spawn(&drainSender{Name: fmt.Sprint("s", i), Ch: ch, Other: other, Vals: vals, Sel: rng.IntN(3) == 0, log: &log})
	}
	for i := range rng.IntN(3) {
		s.PostLocal(ch, fmt.Sprint("posted", i))
		total++
	}
	_ = s.Run(context.Background()) // the senders fill the channel and block: a deadlock for now
	if rng.IntN(4) == 0 {
		require.NoError(t, s.Close(ch))
	}
	s.Spawn(&drainer{Ch: ch, M: []int{1, 2, 3, 5, 8, 16}[rng.IntN(6)], Many: many, Left: total, log: &log})
	err := s.Run(context.Background())
	log = append(log, fmt.Sprintf("run: %v, balance %d", err, s.Channel(other).Balance()))
	if c := s.Channel(ch); c != nil { // a closed channel is dropped once drained
		log = append(log, fmt.Sprintf("left: %v, balance %d", c.Buffer(), c.Balance()))
	}
	return log
}

type drainSender struct {
	Name      string
	Ch, Other channel.ID
	Vals      []any
	Sel       bool
	i         int
	log       *[]string
}

func (d *drainSender) Step(t *tasklet.T) tasklet.Op {
	if d.i > 0 {
		*d.log = append(*d.log, fmt.Sprintf("%s woke: chosen %d, %v", d.Name, t.Chosen(), t.Err()))
	}
	if d.i == len(d.Vals) {
		return t.Exit()
	}
	v := d.Vals[d.i]
	d.i++
	if err, ok := v.(error); ok {
		return t.SendErr(d.Ch, err)
	}
	if d.Sel {
		return t.Select(tasklet.RecvCase(d.Other), tasklet.SendCase(d.Ch, v))
	}
	return t.Send(d.Ch, v)
}

type drainer struct {
	Ch      channel.ID
	M       int
	Many    bool
	Left    int
	waiting bool
	log     *[]string
}

func (d *drainer) Step(t *tasklet.T) tasklet.Op {
	if d.waiting {
		v, err := t.Value(), t.Err()
		if errors.Is(err, channel.ErrClosed) {
			*d.log = append(*d.log, "recv: closed")
			return t.Exit()
		}
		*d.log = append(*d.log, fmt.Sprintf("recv: %v %v", v, err))
		d.Left--
	} else {
		d.drain(t)
	}
	if d.Left <= 0 {
		return t.Exit()
	}
	d.waiting = true
	return t.Recv(d.Ch)
}

// drain takes up to M values in one step, with TryRecvMany or with TryRecv.
func (d *drainer) drain(t *tasklet.T) {
	if d.Many {
		dst := make([]any, d.M)
		n, err := t.TryRecvMany(d.Ch, dst)
		for _, v := range dst[:n] {
			*d.log = append(*d.log, fmt.Sprintf("drain: %v", v))
		}
		d.Left -= n
		if err != nil {
			*d.log = append(*d.log, fmt.Sprintf("drain error: %v", err))
			if !errors.Is(err, channel.ErrClosed) {
				d.Left--
			}
		}
		return
	}
	for n := 0; n < d.M; n++ {
		v, ok, err := t.TryRecv(d.Ch)
		if ok && err == nil {
			*d.log = append(*d.log, fmt.Sprintf("drain: %v", v))
			d.Left--
			continue
		}
		if ok || n == 0 && err != nil { // a sent error; or closed and drained before anything was taken
			*d.log = append(*d.log, fmt.Sprintf("drain error: %v", err))
			if ok {
				d.Left--
			}
		}
		return
	}
}
