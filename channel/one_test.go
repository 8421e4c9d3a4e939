package channel

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

var sink *Channel

// PushReceiverT pushes tasklet t's receive in select case cs.
func (c *Channel) PushReceiverT(t *tasklet.T, seq uint32, cs int32) {
	c.PushReceiver(Waiter{T: t, Seq: seq, Case: cs})
}

// An idle actor is a tasklet blocked on a channel of its own: that channel
// must cost one small allocation, not a channel, two queues and an array.
func TestLoneReceiverWaitsInTheChannel(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Channel{}), uintptr(48), "a quiet channel fits the 48-byte size class")
	tk := newT(1)
	seq := nextWait(tk)
	allocs := testing.AllocsPerRun(100, func() {
		c := New(1, 0)
		require.True(t, c.WaitAlone(tk, seq))
		sink = c // on the heap, as a scheduler keeps it
	})
	assert.Equal(t, 1.0, allocs, "the channel itself, nothing more, for a lone receiver")

	c := New(1, 0)
	c.PushReceiver(Waiter{T: tk, Seq: seq, Case: -1})
	assert.Nil(t, c.more)
	assert.Equal(t, -1, c.Balance())
	assert.True(t, c.HasReceivers())
	assert.False(t, c.HasSenders())
	assert.Equal(t, []Waiter{{T: tk, Seq: seq, Case: -1}}, c.Receivers())
	assert.Empty(t, c.Senders())
	assert.Empty(t, c.Buffer())
	assert.Equal(t, 0, c.Len())
	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Same(t, tk, w.T)
	assert.Equal(t, int32(-1), w.Case)
	assert.Equal(t, 0, c.Balance())
	_, ok = popReceiver(c)
	assert.False(t, ok)
}

// Receivers stay FIFO across the channel's own slot and the queue, whatever
// mix of forgetting and pushing happens.
func TestLoneReceiverSlotKeepsFIFO(t *testing.T) {
	tests := []struct {
		name   string
		forget []int // indexes of pushed receivers forgotten before popping
		want   []tasklet.ID
	}{
		{"two", nil, []tasklet.ID{1, 2}},
		{"three", nil, []tasklet.ID{1, 2, 3}},
		{"first forgotten", []int{0}, []tasklet.ID{2, 3}},
		{"middle forgotten", []int{1}, []tasklet.ID{1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(1, 0)
			ts := []*tasklet.T{newT(1), newT(2), newT(3)}
			n := len(tc.want) + len(tc.forget)
			for _, tk := range ts[:n] {
				c.PushReceiverT(tk, nextWait(tk), 0)
			}
			for _, i := range tc.forget {
				nextWait(ts[i])
				c.ForgetReceiver()
			}
			assert.Equal(t, -len(tc.want), c.Balance())
			got := receiverIDs(c)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, 0, c.Balance())
		})
	}

	// A forgotten lone receiver leaves the slot for the next one.
	c := New(1, 0)
	a, b := newT(1), newT(2)
	c.PushReceiverT(a, nextWait(a), 0)
	nextWait(a)
	c.ForgetReceiver()
	assert.Equal(t, 0, c.Balance())
	assert.False(t, c.HasReceivers())
	c.PushReceiverT(b, nextWait(b), -1)
	assert.Nil(t, c.more)
	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Same(t, b, w.T)

	// Once the queue has emptied, a lone receiver takes the slot again.
	c = New(1, 0)
	c.PushReceiverT(a, nextWait(a), -1)
	c.PushReceiverT(b, nextWait(b), -1)
	require.NotNil(t, c.more)
	for range 2 {
		_, ok := popReceiver(c)
		require.True(t, ok)
	}
	c.PushReceiverT(a, nextWait(a), -1)
	assert.Equal(t, slot{t: a, seq: (*rec)(a).WaitSeq(), cs: -1}, c.one)
	assert.EqualValues(t, 0, c.more.recv.len)
}

// A tasklet migrating away leaves a remote waiter in its place; a remote
// waiter carries a value, so it moves from the slot into the queue.
func TestReplaceLoneReceiver(t *testing.T) {
	c := New(1, 0)
	a := newT(1)
	c.PushReceiverT(a, nextWait(a), 2)
	done := false
	r := &Remote{Node: 3, Tasklet: 1, Seq: 9, Done: &done}
	ok := c.Replace(func(w Waiter) (Waiter, bool) {
		if w.T != a {
			return Waiter{}, false
		}
		return Waiter{Case: w.Case, Value: r}, true
	})
	require.True(t, ok)
	assert.Equal(t, -1, c.Balance())
	got := c.Receivers()
	require.Len(t, got, 1)
	assert.Same(t, r, got[0].Remote())
	assert.Equal(t, int32(2), got[0].Case)

	// And back: the arriving tasklet takes its remote waiter's place.
	ok = c.Replace(func(w Waiter) (Waiter, bool) {
		if w.Remote() != r {
			return Waiter{}, false
		}
		return Waiter{T: a, Seq: (*rec)(a).WaitSeq(), Case: w.Case}, true
	})
	require.True(t, ok)
	w, ok := popReceiver(c)
	require.True(t, ok)
	assert.Same(t, a, w.T)
	assert.Equal(t, 0, c.Balance())

	assert.False(t, New(2, 0).Replace(func(w Waiter) (Waiter, bool) { return w, true }), "nothing to replace")
}

// TakeDirect serves only the default rendezvous; every other case is left
// to PopReceiver and the scheduler's preference rules, with the receiver
// still waiting.
func TestTakeDirect(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(c *Channel, tk *tasklet.T)
		direct bool
	}{
		{"plain receive, default preference", func(c *Channel, tk *tasklet.T) { require.True(t, c.WaitAlone(tk, nextWait(tk))) }, true},
		{"select case", func(c *Channel, tk *tasklet.T) { c.PushReceiverT(tk, nextWait(tk), 0) }, false},
		{"prefer sender", func(c *Channel, tk *tasklet.T) { c.SetPreference(PreferSender); c.WaitAlone(tk, nextWait(tk)) }, false},
		{"prefer neither", func(c *Channel, tk *tasklet.T) { c.SetPreference(PreferNeither); c.WaitAlone(tk, nextWait(tk)) }, false},
		{"preference back to default", func(c *Channel, tk *tasklet.T) {
			c.SetPreference(PreferSender)
			c.SetPreference(PreferReceiver)
			c.WaitAlone(tk, nextWait(tk))
		}, true},
		{"schedule all", func(c *Channel, tk *tasklet.T) { c.SetScheduleAll(true); c.WaitAlone(tk, nextWait(tk)) }, false},
		{"closed", func(c *Channel, tk *tasklet.T) { c.WaitAlone(tk, nextWait(tk)); c.SetClosed(true) }, false},
		{"two receivers", func(c *Channel, tk *tasklet.T) {
			u := newT(2)
			c.PushReceiverT(tk, nextWait(tk), -1)
			c.PushReceiverT(u, nextWait(u), -1)
		}, false},
		{"nobody waits", func(c *Channel, tk *tasklet.T) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(1, 0)
			tk := newT(1)
			tc.setup(c, tk)
			before := c.Balance()
			got := c.TakeDirect()
			if tc.direct {
				assert.Same(t, tk, got)
				assert.Equal(t, before+1, c.Balance(), "the receiver left the channel")
				return
			}
			assert.Nil(t, got)
			assert.Equal(t, before, c.Balance(), "the receivers still wait")
		})
	}

	// A second receiver cannot take the slot while one waits there.
	c := New(1, 0)
	a, b := newT(1), newT(2)
	require.True(t, c.WaitAlone(a, nextWait(a)))
	assert.False(t, c.WaitAlone(b, nextWait(b)))
}

// A queue keeps a waiter's tasklet and wait sequence in two arrays and its
// select case, once one is queued, in a second half of the sequences: plain
// waiters queued before the first select case read as plain after it, and
// every entry keeps its case, value and order through growth.
func TestQueueKeepsCasesAndValuesOfMixedWaiters(t *testing.T) {
	var q queue
	var want []Waiter
	for i := range 11 {
		tk := newT(tasklet.ID(i + 1))
		w := Waiter{T: tk, Seq: nextWait(tk), Case: -1}
		switch i {
		case 3, 9:
			w.Case = int32(i)
		case 5:
			w.Value = "offered"
		case 7:
			w.T, w.Seq, w.Value = nil, 0, "posted"
		}
		q.push(w)
		want = append(want, w)
	}
	assert.Len(t, q.ts, 16)
	assert.Len(t, q.seqs, 32, "a second half for the cases")
	assert.Equal(t, want, q.liveEntries())
	for _, w := range want {
		var got Waiter
		require.True(t, q.take(&got))
		assert.Equal(t, w, got)
	}
	assert.False(t, q.take(new(Waiter)))
	for i := range q.ts {
		assert.Nil(t, q.ts[i], "taken entries leave no tasklet behind")
		assert.Nil(t, q.vals[i], "nor a value")
	}

	var plain queue
	for i := range 100 {
		tk := newT(tasklet.ID(i + 1))
		plain.push(Waiter{T: tk, Seq: nextWait(tk), Case: -1})
	}
	assert.Len(t, plain.seqs, len(plain.ts), "plain receivers need no cases")
	assert.Nil(t, plain.vals, "nor values")
}

// Quiet is the one test the run loop makes before a receive waits in the
// channel's slot: it must fail wherever WaitAlone, Len, HasSenders or
// Closed would have sent the receive elsewhere.
func TestQuiet(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *Channel)
		quiet bool
	}{
		{"new", func(c *Channel) {}, true},
		{"a receiver waits", func(c *Channel) { tk := newT(2); c.WaitQuiet(tk, nextWait(tk)) }, false},
		{"a sender waits", func(c *Channel) { c.PushSender(Waiter{T: newT(2), Seq: 1, Case: -1, Value: 1}) }, false},
		{"closed", func(c *Channel) { c.SetClosed(true) }, false},
		{"a value is buffered", func(c *Channel) { c.BufPush(1) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(1, 0)
			tc.setup(c)
			assert.Equal(t, tc.quiet, c.Quiet())
			if tc.quiet {
				tk := newT(1)
				c.WaitQuiet(tk, nextWait(tk))
				assert.Same(t, tk, c.TakeDirect(), "the receiver waits in the slot, plain")
			}
		})
	}
}
