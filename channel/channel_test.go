package channel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

func TestNew(t *testing.T) {
	c := New(7, 3)
	assert.Equal(t, ID(7), c.ID())
	assert.Equal(t, 3, c.Cap())
	assert.Equal(t, 0, c.Len())
	assert.Equal(t, 0, c.Balance())
	assert.Equal(t, PreferReceiver, c.Preference(), "Stackless default preference")
	assert.False(t, c.ScheduleAll())
	assert.False(t, c.Closed())
	assert.False(t, c.Idle(), "an open channel is never idle")
	assert.False(t, c.HasSenders())
	assert.False(t, c.HasReceivers())
	assert.Equal(t, "ch7(cap 3, balance 0, buffered 0, closed false)", c.String())

	assert.Equal(t, 0, New(1, -5).Cap(), "a negative capacity is a rendezvous channel")
}

func TestPreferenceClamp(t *testing.T) {
	tests := []struct{ set, want int }{
		{-1, -1}, {0, 0}, {1, 1}, {2, 1}, {-2, -1}, {1 << 40, 1}, {-1 << 40, -1},
	}
	c := New(1, 0)
	for _, tc := range tests {
		c.SetPreference(tc.set)
		assert.Equal(t, tc.want, c.Preference(), "SetPreference(%d)", tc.set)
	}
}

func TestFlags(t *testing.T) {
	c := New(1, 0)
	c.SetScheduleAll(true)
	assert.True(t, c.ScheduleAll())
	c.SetScheduleAll(false)
	assert.False(t, c.ScheduleAll())
	c.SetClosed(true)
	assert.True(t, c.Closed())
	c.SetClosed(false)
	assert.False(t, c.Closed(), "Stackless open()")

	assert.True(t, c.MarkDirty(), "was clean")
	assert.False(t, c.MarkDirty(), "was dirty")
	c.MarkClean()
	assert.True(t, c.MarkDirty())
}

func TestIdle(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *Channel)
		idle  bool
	}{
		{"open and empty", func(c *Channel) {}, false},
		{"closed and empty", func(c *Channel) { c.SetClosed(true) }, true},
		{"closed with a buffered value", func(c *Channel) { c.BufPush(1); c.SetClosed(true) }, false},
		{"closed with a posted sender", func(c *Channel) { c.PushSender(Waiter{Value: 1}); c.SetClosed(true) }, false},
		{"closed with a receiver", func(c *Channel) {
			tk := newT(1)
			c.PushReceiver(Waiter{T: tk, Seq: nextWait(tk), Case: -1})
			c.SetClosed(true)
		}, false},
		{"closed with only a forgotten receiver", func(c *Channel) {
			tk := newT(1)
			c.PushReceiver(Waiter{T: tk, Seq: nextWait(tk), Case: -1})
			nextWait(tk)
			c.ForgetReceiver()
			c.SetClosed(true)
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(1, 2)
			tc.setup(c)
			assert.Equal(t, tc.idle, c.Idle())
		})
	}
}

func TestBuffer(t *testing.T) {
	c := New(1, 2)
	assert.False(t, c.BufFull())
	_, ok := c.BufPop()
	assert.False(t, ok, "empty buffer")
	c.BufPush("a")
	c.BufPush("b")
	assert.True(t, c.BufFull())
	assert.Equal(t, 2, c.Len())
	assert.Equal(t, []any{"a", "b"}, c.Buffer())
	v, ok := c.BufPop()
	require.True(t, ok)
	assert.Equal(t, "a", v)
	c.BufPush("c")
	assert.Equal(t, []any{"b", "c"}, c.Buffer(), "FIFO across the wrap")
	buf := c.Buffer()
	buf[0] = "changed"
	assert.Equal(t, []any{"b", "c"}, c.Buffer(), "Buffer returns a copy")

	assert.True(t, New(2, 0).BufFull(), "a rendezvous channel has no room")
}

type rec = core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case]

func newT(id tasklet.ID) *tasklet.T {
	return (*tasklet.T)(core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](uint64(id), nil, nil))
}

// nextWait starts a new wait of tk, as the scheduler does when it blocks.
func nextWait(tk *tasklet.T) uint32 { return (*rec)(tk).NextWait() }

func TestWaiterQueuesFIFOAndBalance(t *testing.T) {
	c := New(1, 0)
	ts := []*tasklet.T{newT(1), newT(2), newT(3)}
	for i, tk := range ts {
		c.PushSender(Waiter{T: tk, Seq: nextWait(tk), Case: -1, Value: i})
		assert.Equal(t, i+1, c.Balance())
	}
	assert.True(t, c.HasSenders())
	assert.False(t, c.HasReceivers())
	var order []any
	for _, w := range c.Senders() {
		order = append(order, w.Value)
	}
	assert.Equal(t, []any{0, 1, 2}, order)
	for i := range ts {
		w, ok := popSender(c)
		require.True(t, ok)
		assert.Same(t, ts[i], w.T)
		assert.Equal(t, 2-i, c.Balance())
	}
	_, ok := popSender(c)
	assert.False(t, ok)

	for _, tk := range ts {
		c.PushReceiver(Waiter{T: tk, Seq: nextWait(tk), Case: -1})
	}
	assert.Equal(t, -3, c.Balance())
	assert.True(t, c.HasReceivers())
	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Same(t, ts[0], w.T)
	assert.Equal(t, -2, c.Balance())
}

func TestLazyRemoval(t *testing.T) {
	c := New(1, 0)
	ts := []*tasklet.T{newT(1), newT(2), newT(3)}
	for _, tk := range ts {
		c.PushReceiver(Waiter{T: tk, Seq: nextWait(tk), Case: 0})
	}
	// t2's wait ends elsewhere (another select case fired, or a kill).
	nextWait(ts[1])
	c.ForgetReceiver()
	assert.Equal(t, -2, c.Balance(), "the balance drops at once")
	assert.EqualValues(t, 3, c.more.recv.len, "the entry itself stays until it reaches the head")
	assert.EqualValues(t, 1, c.more.recv.stale)
	var live []*tasklet.T
	for _, w := range c.Receivers() {
		live = append(live, w.T)
	}
	assert.Equal(t, []*tasklet.T{ts[0], ts[2]}, live)

	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Same(t, ts[0], w.T)
	w, ok = popReceiver(c)
	require.True(t, ok)
	assert.Same(t, ts[2], w.T, "the stale entry is skipped")
	assert.EqualValues(t, 0, c.more.recv.stale)
	assert.EqualValues(t, 0, c.more.recv.len)
	assert.Equal(t, 0, c.Balance())

	// A posted value (no tasklet) is always live.
	posted := Waiter{Value: "x", Case: -1}
	assert.True(t, posted.Live())
	c.PushSender(posted)
	w, ok = popSender(c)
	require.True(t, ok)
	assert.Nil(t, w.T)
	assert.Equal(t, "x", w.Value)
}

func TestCompaction(t *testing.T) {
	c := New(1, 0)
	ts := waitToReceive(c, 1, 40)
	// Forget all but every eighth, as the scheduler does: the entry is
	// forgotten, then its tasklet starts its next wait. The 33rd stale
	// entry compacts the queue (33 stale, 7 live); that forgotten last is
	// still live then and stays, counted stale, with the two after it.
	for i, tk := range ts {
		if i%8 != 0 {
			c.ForgetReceiver()
			nextWait(tk)
		}
	}
	q := &c.more.recv
	assert.EqualValues(t, 3, q.stale, "forgetting compacts once the stale entries outnumber the live ones")
	assert.EqualValues(t, 8, q.len)
	assert.Equal(t, q.len, q.live+q.stale)
	require.Equal(t, -5, c.Balance())

	extra := newT(99)
	c.PushReceiver(Waiter{T: extra, Seq: nextWait(extra), Case: -1})
	assert.EqualValues(t, 9, q.len, "a few stale entries wait for a take")
	assert.Equal(t, -6, c.Balance())
	got := receiverIDs(c)
	assert.Equal(t, []tasklet.ID{1, 9, 17, 25, 33, 99}, got, "compaction keeps FIFO order")
	assert.Zero(t, q.len)
	assert.Zero(t, q.stale)

	// A push onto nothing but stale entries drops them.
	for _, tk := range waitToReceive(c, 100, 3) {
		c.ForgetReceiver()
		nextWait(tk)
	}
	require.EqualValues(t, 3, q.stale)
	late := newT(200)
	c.PushReceiver(Waiter{T: late, Seq: nextWait(late), Case: -1})
	assert.Zero(t, q.len, "a receiver pushed onto only stale entries drops them and waits alone")
	assert.Zero(t, q.stale)
	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Equal(t, late, w.T)

	// Few stale entries among live ones do not trigger compaction.
	c2 := New(2, 0)
	a, b, d := newT(1), newT(2), newT(3)
	c2.PushSender(Waiter{T: a, Seq: nextWait(a), Case: -1})
	c2.PushSender(Waiter{T: b, Seq: nextWait(b), Case: -1})
	nextWait(a)
	c2.ForgetSender()
	c2.PushSender(Waiter{T: d, Seq: nextWait(d), Case: -1})
	assert.EqualValues(t, 1, c2.more.send.stale)
	assert.EqualValues(t, 3, c2.more.send.len)
	assert.Equal(t, 2, c2.Balance())

	// With no live entry left, the next push drops every stale one: a
	// select that keeps timing out must not grow the queue.
	c3 := New(3, 0)
	for i := range 100 {
		x := newT(tasklet.ID(i + 1))
		c3.PushReceiver(Waiter{T: x, Seq: nextWait(x), Case: 0})
		nextWait(x)
		c3.ForgetReceiver()
	}
	assert.Nil(t, c3.more, "a lone receiver waits in the channel's own slot")
	assert.Equal(t, slot{}, c3.one, "a forgotten receiver leaves the slot at once")
	assert.Equal(t, 0, c3.Balance())
}

func TestRingGrowth(t *testing.T) {
	var r ring[int]
	next, want := 0, 0
	// Interleave pushes and pops so the ring wraps before it grows.
	for round := range 50 {
		for range round%7 + 2 {
			r.pushBack(next)
			next++
		}
		for range round % 5 {
			if r.len == 0 {
				break
			}
			require.Equal(t, want, r.popFront())
			want++
		}
		require.Equal(t, next-want, r.len)
		require.LessOrEqual(t, r.len, len(r.buf))
		s := r.slice()
		for i, v := range s {
			require.Equal(t, want+i, v, "order kept after growth")
		}
	}
	for r.len > 0 {
		require.Equal(t, want, r.popFront())
		want++
	}
	assert.Equal(t, next, want)
	for i := range r.buf {
		assert.Zero(t, r.buf[i], "popped slots are cleared")
	}
}

func TestRingGrowsFromWrappedState(t *testing.T) {
	var r ring[string]
	for _, s := range []string{"a", "b", "c", "d"} {
		r.pushBack(s)
	}
	require.Equal(t, 4, len(r.buf))
	r.popFront()
	r.popFront()
	r.pushBack("e")
	r.pushBack("f") // wraps: head is 2
	require.Equal(t, 2, r.head)
	r.pushBack("g") // full: grows
	assert.Equal(t, []string{"c", "d", "e", "f", "g"}, r.slice())
	assert.Equal(t, 0, r.head)
	assert.Equal(t, 8, len(r.buf))
	assert.Equal(t, "e", r.at(2))
}

func popSender(c *Channel) (Waiter, bool) {
	var w Waiter
	ok := c.PopSender(&w)
	return w, ok
}

func popReceiver(c *Channel) (Waiter, bool) {
	var w Waiter
	ok := c.PopReceiver(&w)
	return w, ok
}

// receiverIDs pops every live receiver of c, in order.
func receiverIDs(c *Channel) []tasklet.ID {
	var got []tasklet.ID
	for {
		w, ok := popReceiver(c)
		if !ok {
			return got
		}
		got = append(got, w.T.ID())
	}
}

// waitToReceive makes n tasklets with IDs from first on and queues each as
// a receiver of c.
func waitToReceive(c *Channel, first, n int) []*tasklet.T {
	var ts []*tasklet.T
	for i := range n {
		tk := newT(tasklet.ID(first + i))
		ts = append(ts, tk)
		c.PushReceiver(Waiter{T: tk, Seq: nextWait(tk), Case: -1})
	}
	return ts
}

// Offered values live beside the tasklets and sequences, made only when a queue
// first holds one: nil values before and after, growth, wrap-around,
// stale entries and remote waiters all keep their values in FIFO order.
func TestOfferedValuesKeepTheirPlace(t *testing.T) {
	c := New(1, 0)
	var want []any
	push := func(v any) {
		tk := newT(tasklet.ID(len(want) + 1))
		c.PushSender(Waiter{T: tk, Seq: nextWait(tk), Case: -1, Value: v})
		want = append(want, v)
	}
	push(nil) // no values yet: no value ring
	push(nil)
	push("a") // the value ring is made here
	done := false
	c.PushSender(Waiter{Value: &Remote{Node: 2, Tasklet: 9, Value: "remote", Done: &done}})
	want = append(want, "remote")
	stale := newT(99)
	c.PushSender(Waiter{T: stale, Seq: nextWait(stale), Case: 0, Value: "stale"})
	nextWait(stale)
	c.ForgetSender()
	for i := range 20 { // grows and wraps
		push(i)
		if i%3 == 0 {
			w, ok := popSender(c)
			require.True(t, ok)
			assert.Equal(t, want[0], w.Offered())
			want = want[1:]
		}
	}
	for len(want) > 0 {
		w, ok := popSender(c)
		require.True(t, ok)
		assert.Equal(t, want[0], w.Offered())
		want = want[1:]
	}
	_, ok := popSender(c)
	assert.False(t, ok, "the stale entry is never taken")
	assert.Zero(t, c.Balance())
}

// WaitToSend appends where the queue has room and values, behind stale
// entries too, and declines (for PushSender) where it would need to grow or
// where the queue has no values or has case indexes.
func TestWaitToSend(t *testing.T) {
	c := New(1, 0)
	first := newT(1)
	assert.False(t, c.WaitToSend(first, nextWait(first), "none"), "no queue yet")
	c.PushSender(Waiter{T: first, Seq: waitSeq(first), Case: -1, Value: "a"})
	stale := newT(2)
	c.PushSender(Waiter{T: stale, Seq: nextWait(stale), Case: -1, Value: "stale"})
	nextWait(stale)
	c.ForgetSender()
	require.EqualValues(t, 2, len(c.more.send.ts), "full: the next needs growing")
	third := newT(3)
	assert.False(t, c.WaitToSend(third, nextWait(third), "c"), "a full queue grows in PushSender")
	c.PushSender(Waiter{T: third, Seq: waitSeq(third), Case: -1, Value: "c"})
	fourth := newT(4)
	require.True(t, c.WaitToSend(fourth, nextWait(fourth), "d"), "room behind a stale entry")
	var got []any
	for _, w := range c.Senders() {
		got = append(got, w.Value)
	}
	assert.Equal(t, []any{"a", "c", "d"}, got, "the stale entry is not listed")
	assert.Equal(t, 3, c.Balance())
	for _, want := range []string{"a", "c", "d"} {
		w, ok := popSender(c)
		require.True(t, ok)
		assert.Equal(t, want, w.Value)
	}
	_, ok := popSender(c)
	assert.False(t, ok)

	sel := New(2, 0)
	cs := newT(5)
	sel.PushSender(Waiter{T: cs, Seq: nextWait(cs), Case: 3, Value: "case"})
	sel.PushSender(Waiter{T: newT(6), Seq: 1, Case: -1, Value: "x"})
	sel.PushSender(Waiter{T: newT(10), Seq: 1, Case: -1, Value: "y"}) // grows to 4
	require.Less(t, int(sel.more.send.len), len(sel.more.send.ts))
	plain := newT(7)
	assert.False(t, sel.WaitToSend(plain, nextWait(plain), "p"), "a queue with case indexes")
	noVals := New(3, 0)
	noVals.PushSender(Waiter{T: newT(8), Seq: 1, Case: -1})
	noVals.PushSender(Waiter{T: newT(9), Seq: 1, Case: -1})
	noVals.PushSender(Waiter{T: newT(11), Seq: 1, Case: -1}) // grows to 4
	require.Less(t, int(noVals.more.send.len), len(noVals.more.send.ts))
	assert.False(t, noVals.WaitToSend(plain, nextWait(plain), "p"), "a queue without values")
}

// Drain scans for a Bomb only once one was noted: BufPush and PushSender
// (a remote sender's offer included) note it themselves, and the note is
// dropped once the channel holds nothing.
func TestDrainStopsAtANotedBomb(t *testing.T) {
	boom := Bomb{Err: assert.AnError}
	dst := make([]any, 4)
	c := New(1, 4)
	c.BufPush(1)
	c.BufPush(boom)
	c.BufPush(2)
	n, _, _ := c.Drain(dst, nil, nil)
	assert.Equal(t, []any{1, boom}, dst[:n], "the batch ends with the Bomb")
	n, _, _ = c.Drain(dst, nil, nil)
	assert.Equal(t, []any{2}, dst[:n])
	assert.False(t, c.bombs, "an empty channel holds no Bomb")

	done := false
	r := New(2, 2)
	r.BufPush("x")
	r.BufPush("x2")
	r.PushSender(Waiter{Value: &Remote{Node: 2, Tasklet: 9, Value: boom, Done: &done}, Case: -1})
	r.PushSender(Waiter{Value: "y", Case: -1})
	n, _, _ = r.Drain(dst, nil, nil)
	assert.Equal(t, []any{"x", "x2", boom}, dst[:n], "a remote sender's Bomb ends the batch too")
	n, _, _ = r.Drain(dst, nil, nil)
	assert.Equal(t, []any{"y"}, dst[:n])
}

// BufPushAll appends what fits, in order, across the ring's wrap, and
// notes a Bomb as BufPush does (drains scan for one only when noted).
func TestBufPushAll(t *testing.T) {
	c := New(1, 5)
	for i := range 4 {
		c.BufPush(i)
	}
	for range 3 {
		c.BufPop()
	}
	assert.Equal(t, 0, c.BufPushAll(nil))
	assert.Equal(t, 4, c.BufPushAll([]any{"a", "b", "c", "d", "e"}), "the room left: 4 of 5")
	assert.Equal(t, []any{3, "a", "b", "c", "d"}, c.Buffer())
	assert.Equal(t, 0, c.BufPushAll([]any{"f"}), "full")
	assert.False(t, c.bombs)

	d := New(2, 8)
	assert.Equal(t, 3, d.BufPushAll([]any{1, Bomb{}, 3}))
	assert.True(t, d.bombs, "a Bomb in the batch is noted")
}

// A queue that compacts down to a quarter of its arrays or less moves into
// smaller ones: a channel many once waited on keeps room for the few left.
func TestCompactionShrinksTheQueue(t *testing.T) {
	c := New(1, 0)
	ts := waitToReceive(c, 1, 4096)
	q := &c.more.recv
	require.Len(t, q.ts, 4096)
	for i, tk := range ts {
		if i%100 != 0 {
			c.ForgetReceiver()
			nextWait(tk)
		}
	}
	assert.Less(t, len(q.ts), 256, "arrays of %d entries for %d waiting", len(q.ts), q.live)
	assert.GreaterOrEqual(t, len(q.ts), int(q.len))
	assert.Zero(t, len(q.ts)&(len(q.ts)-1), "a power of two")
	got := receiverIDs(c)
	require.Len(t, got, 41)
	for i, id := range got {
		assert.Equal(t, tasklet.ID(100*i+1), id, "FIFO order kept")
	}
}
