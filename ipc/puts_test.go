package ipc

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// testLink is a link of a node that runs nothing, on one end of a pipe
// nobody reads: what it queues stays in its out buffer.
func testLink(t *testing.T, opts ...Option) *link {
	t.Helper()
	n := NewNode(scheduler.New(scheduler.WithNode(1)), testRegistry(), append([]Option{WithSecret(testSecret), WithLogger(newLogSink().logger())}, opts...)...)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return newLink(n, 2, a, "pipe")
}

// queued decodes the frames l has queued, closing an open PUTS frame.
func queued(t *testing.T, l *link) []message {
	t.Helper()
	l.mu.Lock()
	l.endRunLocked()
	out := bytes.Clone(l.out)
	l.mu.Unlock()
	fr := newFrameReader(bufio.NewReaderSize(bytes.NewReader(out), bufSize), l.n.cfg.maxFrame)
	var msgs []message
	for {
		body, err := fr.next()
		if err != nil {
			return msgs
		}
		var m message
		var sc scratch
		require.NoError(t, decodeMessage(body, l.n.reg, &m, &sc))
		msgs = append(msgs, m)
	}
}

func TestPutsFramesKeepTheLinkOrder(t *testing.T) {
	l := testLink(t)
	a, b := channel.ID(2<<tasklet.NodeBits|1), channel.ID(2<<tasklet.NodeBits|2)
	require.NoError(t, l.put(a, 1, true))
	require.NoError(t, l.put(a, "two", true))
	require.NoError(t, l.put(b, []byte{3}, true))
	require.NoError(t, l.hold(&message{Kind: kClose, Chan: a}))
	require.NoError(t, l.put(a, Result{Name: "four"}, true))
	require.NoError(t, l.put(a, -5, true))

	assert.Equal(t, []message{
		{Kind: kPuts, Chan: a, Values: []any{1, "two"}},
		{Kind: kPuts, Chan: b, Values: []any{[]byte{3}}},
		{Kind: kClose, Chan: a},
		{Kind: kPuts, Chan: a, Values: []any{Result{Name: "four"}, -5}},
	}, queued(t, l), "consecutive values on one channel share a frame; anything else closes it")
	assert.Equal(t, uint64(4), l.queuedFrames(), "a PUTS frame counts as one frame")
}

func TestPutsFramesStayUnderTheFrameLimit(t *testing.T) {
	l := testLink(t, WithMaxFrame(64))
	ch := channel.ID(2<<tasklet.NodeBits | 1)
	value := strings.Repeat("x", 20) // 21 bytes encoded: two fit a frame of 64, three do not
	for range 5 {
		require.NoError(t, l.put(ch, value, true))
	}
	err := l.put(ch, strings.Repeat("y", 100), true)
	require.ErrorIs(t, err, ErrFrameTooLarge, "a value larger than a frame is refused")
	assert.ErrorContains(t, err, "WithMaxFrame")

	msgs := queued(t, l)
	var got []any
	for _, m := range msgs {
		require.Equal(t, kPuts, m.Kind)
		got = append(got, m.Values...)
	}
	assert.Len(t, msgs, 3, "the values are split over frames of at most 64 bytes")
	assert.Equal(t, []any{value, value, value, value, value}, got, "every value that was accepted, in order, and nothing of the refused one")
	assert.Equal(t, uint64(3), l.queuedFrames())
}

func TestPutsOnAClosedLinkFail(t *testing.T) {
	l := testLink(t)
	l.close(errors.New("test"))
	err := l.put(channel.ID(2<<tasklet.NodeBits|1), 1, true)
	assert.ErrorIs(t, err, ErrLinkDown)
}

// anySender sends Vals on Out, one after the other, then closes done.
type anySender struct {
	Out  channel.ID
	Vals []any
	Err  error
	i    int
	done chan struct{}
}

func (p *anySender) Step(t *tasklet.T) tasklet.Op {
	if p.i > 0 && t.Err() != nil {
		p.Err = t.Err()
	}
	if p.i == len(p.Vals) || p.Err != nil {
		close(p.done)
		return t.Exit()
	}
	p.i++
	return t.Send(p.Out, p.Vals[p.i-1])
}

// anyReceiver receives N values from In into Got, then closes done.
type anyReceiver struct {
	In   channel.ID
	N    int
	Got  []any
	done chan struct{}
	on   bool
}

func (r *anyReceiver) Step(t *tasklet.T) tasklet.Op {
	if r.on {
		r.Got = append(r.Got, t.Value())
	}
	r.on = true
	if len(r.Got) == r.N {
		close(r.done)
		return t.Exit()
	}
	return t.Recv(r.In)
}

func TestSendsOnCreditTravelInBulk(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 64)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit from the channel's home", func() bool { return c.credit(1, ch) == 63 })

	vals := []any{1, -5, 1 << 40, 200, 300, 70_000, 1<<32 - 1, -200, "two", "", []byte{3}, []byte{}, 4.5, int64(7), true, nil, Result{Name: "r", Got: []int{1}}}
	for len(vals) < 40 {
		vals = append(vals, len(vals))
	}
	frames := func() uint64 { return c.nodes[1].Stats().PerLink[0].FramesOut }
	release := c.gate(0) // the home takes nothing while the values are sent
	before := frames()
	p := &anySender{Out: ch, Vals: vals, done: make(chan struct{})}
	c.spawn(1, p)
	waitClosed(t, p.done, "sends on credit while the home is busy")
	require.NoError(t, p.Err)
	assert.LessOrEqual(t, frames()-before, uint64(2), "40 sends on credit in one slice travel in one frame (two if a slice ended between them)")
	release(nil)

	r := &anyReceiver{In: ch, N: 1 + len(vals), done: make(chan struct{})}
	c.spawn(0, r)
	waitClosed(t, r.done, "the receiver")
	assert.Equal(t, append([]any{0}, vals...), r.Got, "every value arrives, equal and in the order sent")
	// 64 if the receiver had emptied the buffer when the values came: the
	// credit is then topped up to the capacity.
	c.waitFor("the credit given back", func() bool { k := c.credit(1, ch); return k == 63 || k == 64 })
}

func TestHostilePutsAreRefused(t *testing.T) {
	reg := testRegistry()
	n := 0
	for name, data := range fuzzSeeds(t) {
		if !strings.HasPrefix(name, "hostile_puts_") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			fr := newFrameReader(bufio.NewReaderSize(bytes.NewReader(data), bufSize), fuzzMaxFrame)
			body, err := fr.next()
			require.NoError(t, err, "the frame itself is whole")
			var m message
			var sc scratch
			err = decodeMessage(body, reg, &m, &sc)
			assert.ErrorIs(t, err, ErrBadFrame)
			assert.Empty(t, sc.vals, "nothing of a refused frame is kept")
		})
	}
	assert.Equal(t, 9, n)
}

func TestSendsOnCreditDoNotSwitchTheSenderOut(t *testing.T) {
	var sender atomic.Uint64
	var resumed atomic.Int64
	hook := func(i int) func(prev, next tasklet.ID) {
		if i != 1 {
			return nil
		}
		return func(_, next tasklet.ID) {
			if uint64(next) == sender.Load() {
				resumed.Add(1)
			}
		}
	}
	c := newCluster(t, 2, clusterConfig{hooks: hook})
	ch := c.ch(0, 64)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit from the channel's home", func() bool { return c.credit(1, ch) == 63 })

	p := &sendSeq{Out: ch, From: 1, To: 41, done: make(chan struct{})}
	c.on(1, func(s *scheduler.Scheduler) { sender.Store(uint64(s.Spawn(p))) })
	waitClosed(t, p.done, "40 sends on credit")
	require.NoError(t, p.Err)
	assert.Equal(t, int64(1), resumed.Load(), "a send on credit goes on at once, as a send into a buffer with room: the sender ran once for its 40 sends")

	c.prog(0, "recv", recvN(ch, 41)...)
	assert.Equal(t, ints(0, 40), c.collect(1)["recv"].Got)
}

// A batch of ints goes into the open frame in one loop (appendIntsLocked):
// the same bytes as a value at a time, up to the frame's limit and the
// values' bound, and a value of another type in the middle is written as
// ever.
func TestPutAllIntsAsPutEach(t *testing.T) {
	ch := channel.ID(2<<tasklet.NodeBits | 1)
	vals := []any{0, 127, 128, 255, 256, 65535, 65536, 70000, 1 << 20, 1<<32 - 1, 1 << 32, 1 << 40, -1, -33, -200, -40000, -1 << 40, "s", 7, 1 << 62, 3}
	var batch []any
	for range 12 { // 204 values, about 660 bytes: frames of 200
		batch = append(batch, vals...)
	}
	one := testLink(t, WithMaxFrame(200))
	for _, v := range batch {
		require.NoError(t, one.put(ch, v, true))
	}
	all := testLink(t, WithMaxFrame(200))
	require.NoError(t, all.put(ch, batch[0], true)) // opens the frame the rest join
	errs := make([]error, len(batch)-1)
	sent, err := all.putAll(ch, batch[1:], errs, true)
	require.NoError(t, err)
	assert.Equal(t, len(batch)-1, sent)
	assert.Equal(t, make([]error, len(errs)), errs)
	assert.Equal(t, one.out, all.out, "the bytes a value at a time")
	msgs := queued(t, all)
	require.Greater(t, len(msgs), 2, "the frame limit splits the batch")
	var got []any
	for _, m := range msgs {
		got = append(got, m.Values...)
	}
	assert.Equal(t, batch, got)

	full := testLink(t)
	require.NoError(t, full.put(ch, 1, true))
	many := make([]any, maxPutValues+10)
	for i := range many {
		many[i] = i
	}
	sent, err = full.putAll(ch, many, make([]error, len(many)), true)
	require.NoError(t, err)
	assert.Equal(t, len(many), sent)
	msgs = queued(t, full)
	require.Len(t, msgs, 2, "a frame holds at most maxPutValues values")
	assert.Len(t, msgs[0].Values, maxPutValues)
	// Decoded as sent: the uint16s among them are boxed in shared blocks.
	assert.Equal(t, append([]any{1}, many...), append(msgs[0].Values, msgs[1].Values...))
}
