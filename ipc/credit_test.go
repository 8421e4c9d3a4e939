package ipc

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// sendSeq sends From, From+1, ... To-1 on Out, then closes done; an error
// ends it early, recorded in Err with the count sent before it.
type sendSeq struct {
	Out      channel.ID
	From, To int
	Sent     int
	Err      error
	started  bool
	done     chan struct{}
}

func (p *sendSeq) Step(t *tasklet.T) tasklet.Op {
	if p.started {
		if err := t.Err(); err != nil {
			p.Err = err
			close(p.done)
			return t.Exit()
		}
		p.Sent++
	}
	p.started = true
	if p.From+p.Sent == p.To {
		close(p.done)
		return t.Exit()
	}
	return t.Send(p.Out, p.From+p.Sent)
}

func waitClosed(t *testing.T, done chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func (c *cluster) credit(i int, ch channel.ID) int {
	var k int
	c.on(i, func(*scheduler.Scheduler) {
		if sc := c.nodes[i].cr.have[ch]; sc != nil {
			k = sc.n
		}
	})
	return k
}

func TestSendsOnCreditDoNotWaitForTheHome(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 8)
	first := &sendSeq{Out: ch, From: 1, To: 2, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	// The buffer holds 1 of 8: the home grants the room left.
	c.waitFor("credit from the channel's home", func() bool { return c.credit(1, ch) == 7 })

	release := c.gate(0) // the home's scheduler answers nothing now
	rest := &sendSeq{Out: ch, From: 2, To: 8, done: make(chan struct{})}
	c.spawn(1, rest)
	waitClosed(t, rest.done, "sends on credit while the home is busy")
	release(nil)
	require.NoError(t, rest.Err)

	c.prog(0, "recv", recvN(ch, 7)...)
	res := c.collect(1)
	assert.Equal(t, ints(1, 7), res["recv"].Got, "the values arrive in the order sent")
	// 8 if the receiver had emptied the buffer when the values came: the
	// credit is then topped up to the capacity.
	c.waitFor("the credit given back", func() bool { k := c.credit(1, ch); return k == 7 || k == 8 })
}

func TestCreditIsBoundedWhileTheBufferStaysFull(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 4)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit for the room left", func() bool { return c.credit(1, ch) == 3 })

	// With the home busy, sends 1-3 go on credit and send 4 waits for its
	// round trip.
	release := c.gate(0)
	p := &sendSeq{Out: ch, From: 1, To: 100, done: make(chan struct{})}
	id := c.spawn(1, p)
	c.waitFor("the sender to run out of credit", func() bool {
		blocked := false
		c.on(1, func(s *scheduler.Scheduler) { _, blocked = s.WaitOf(id) })
		return blocked
	})
	assert.Equal(t, 3, p.Sent)
	release(nil)
	// Sends 1 and 2 leave room behind them and give their credit back;
	// send 3 fills the buffer and keeps it; send 4 waits as a sender, and
	// nothing more moves until a receiver comes.
	c.waitFor("the credit of the sends that left room", func() bool { return c.credit(1, ch) == 2 })
	c.waitBalance(ch, 1)
	c.on(1, func(*scheduler.Scheduler) { assert.Equal(t, 3, p.Sent, "the waiting send stays waiting") })

	c.prog(0, "recv", recvN(ch, 100)...)
	res := c.collect(1)
	waitClosed(t, p.done, "the producer")
	require.NoError(t, p.Err)
	assert.Equal(t, ints(0, 99), res["recv"].Got, "round trips and sends on credit keep their order")
}

func TestClosingTheChannelWithdrawsCredit(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 8)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send")
	c.waitFor("credit", func() bool { return c.credit(1, ch) == 7 })
	c.on(0, func(s *scheduler.Scheduler) { require.NoError(t, s.Close(ch)) })

	p := &sendSeq{Out: ch, From: 1, To: 1000, done: make(chan struct{})}
	c.spawn(1, p)
	waitClosed(t, p.done, "the sender to see the close")
	assert.True(t, errors.Is(p.Err, channel.ErrClosed), "once the credit is withdrawn a send fails as before: %v", p.Err)
	assert.LessOrEqual(t, p.Sent, 7, "at most the credit's sends completed after the close")
	// Every send that completed is in the channel, to be drained after the
	// close: a sender that saw success never loses its value.
	var buffered int
	c.on(0, func(s *scheduler.Scheduler) { buffered = s.Channel(ch).Len() })
	assert.Equal(t, first.Sent+p.Sent, buffered, "the first send and every send on credit are buffered")
}

func TestUnbufferedAndSelectSendsStillWait(t *testing.T) {
	c := newCluster(t, 2)
	unbuf := c.ch(0, 0)
	c.prog(0, "recv", recvN(unbuf, 3)...)
	p := &sendSeq{Out: unbuf, From: 0, To: 3, done: make(chan struct{})}
	c.spawn(1, p)
	waitClosed(t, p.done, "the rendezvous")
	res := c.collect(1)
	assert.Equal(t, ints(0, 2), res["recv"].Got)
	assert.Zero(t, c.credit(1, unbuf), "no credit on an unbuffered channel")
}

// A PUT that fills the buffer keeps its credit, so a stream loses credit
// whenever its batch finds the buffer nearly full. Once the buffer runs
// empty again the home gives it back: before, the stream went on with what
// was left for good (768 of 1,024 credits in half the runs of
// BenchmarkRemoteStreamTwoProcesses, each batch paying the same wake-ups).
func TestCreditLostToAFullBufferComesBackOnceItRunsEmpty(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 8)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit for the room left", func() bool { return c.credit(1, ch) == 7 })

	// Sends 1-7 go on credit while the home is busy; send 7 fills the
	// buffer (value 0 is still in it) and its credit stays at the home.
	release := c.gate(0)
	fill := &sendSeq{Out: ch, From: 1, To: 8, done: make(chan struct{})}
	c.spawn(1, fill)
	waitClosed(t, fill.done, "sends on credit while the home is busy")
	release(nil)
	require.NoError(t, fill.Err)
	c.waitFor("the credit of the sends that left room", func() bool { return c.credit(1, ch) == 6 })

	c.prog(0, "recv", recvN(ch, 8)...)
	res := c.collect(1)
	assert.Equal(t, ints(0, 7), res["recv"].Got)
	// The next batch finds the buffer empty: the credit comes back to the
	// channel's capacity, as a first grant on an empty channel gives.
	more := &sendSeq{Out: ch, From: 8, To: 9, done: make(chan struct{})}
	c.spawn(1, more)
	waitClosed(t, more.done, "a send on credit into the empty buffer")
	require.NoError(t, more.Err)
	c.waitFor("the credit restored to the capacity", func() bool { return c.credit(1, ch) == 8 })
	var buffered int
	c.on(0, func(s *scheduler.Scheduler) { buffered = s.Channel(ch).Len() })
	assert.Equal(t, 1, buffered, "the value sent is buffered")
}
