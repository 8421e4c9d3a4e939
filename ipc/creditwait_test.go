package ipc

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// parked is the number of sends node i holds parked for credit on ch.
func (c *cluster) parked(i int, ch channel.ID) int {
	k := 0
	c.on(i, func(*scheduler.Scheduler) {
		if q := c.nodes[i].cr.waits[ch]; q != nil {
			for _, p := range q.parked[q.at:] {
				if p.id != 0 {
					k++
				}
			}
		}
	})
	return k
}

// homeSenders lists the tasklets whose sends wait in ch's queue at its
// home, in order.
func (c *cluster) homeSenders(ch channel.ID) []tasklet.ID {
	var ids []tasklet.ID
	c.on(c.home(ch), func(s *scheduler.Scheduler) {
		for _, cs := range s.World().Channels {
			if cs.ID == ch {
				for _, w := range cs.Senders {
					ids = append(ids, w.Tasklet)
				}
			}
		}
	})
	return ids
}

// creditQueue sets up a buffered channel (capacity 2) homed at node 0
// that node 1 has held credit on, then, with node 0 held, five senders on
// node 1 (Progs s1..s5) sending 1..5: 1 goes on the last credit, 2 as the
// OP that stands for node 1 at the home, 3-5 park on node 1. The buffer
// holds 0 and 1 once node 0 goes on, and sender 2 waits there.
// The home's Balance counts all four waiting senders.
func creditQueue(t *testing.T, nodes int) (*cluster, channel.ID, []tasklet.ID) {
	t.Helper()
	c := newCluster(t, nodes)
	ch := c.ch(0, 2)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit for the room left", func() bool { return c.credit(1, ch) == 1 })

	release := c.gate(0)
	var ids []tasklet.ID
	for v := 1; v <= 5; v++ {
		ids = append(ids, c.prog(1, fmt.Sprintf("s%d", v), send(ch, v)))
	}
	c.waitFor("three sends parked for credit", func() bool { return c.parked(1, ch) == 3 })
	release(nil)
	// Sender 2 waits in the home's queue; 3-5 are counted there by number
	// (WAITING).
	c.waitBalance(ch, 4)
	return c, ch, ids
}

// senderLogs checks the five senders' reports: what each logged.
func senderLogs(t *testing.T, res map[string]Result, want map[string][]string) {
	t.Helper()
	for v := 1; v <= 5; v++ {
		name := fmt.Sprintf("s%d", v)
		assert.Equal(t, want[name], res[name].Log, "sender %s", name)
	}
}

func TestParkedSendsGoInTheOrderTheyBlocked(t *testing.T) {
	c, ch, _ := creditQueue(t, 2)
	c.prog(0, "recv", recvN(ch, 6)...)
	res := c.collect(6)
	assert.Equal(t, ints(0, 5), res["recv"].Got, "round trips, sends on credit and parked sends keep the order sent")
	senderLogs(t, res, nil)
	assert.Zero(t, c.parked(1, ch))
	c.waitBalance(ch, 0)
}

func TestKillOfASendParkedForCredit(t *testing.T) {
	c, ch, ids := creditQueue(t, 2)
	c.on(1, func(s *scheduler.Scheduler) { require.NoError(t, s.Kill(ids[3], false)) }) // s4
	c.waitFor("the killed send to leave the queue", func() bool { return c.parked(1, ch) == 2 })
	c.waitBalance(ch, 3)
	c.prog(0, "recv", recvN(ch, 5)...)
	res := c.collect(6)
	assert.Equal(t, []int{0, 1, 2, 3, 5}, res["recv"].Got, "the killed send's value never went")
	senderLogs(t, res, map[string][]string{"s4": {"err:" + tasklet.ErrKilled.Error()}})
}

func TestKillOfTheSendThatStandsForTheQueue(t *testing.T) {
	c, ch, ids := creditQueue(t, 2)
	c.on(1, func(s *scheduler.Scheduler) { require.NoError(t, s.Kill(ids[1], false)) }) // s2, waiting at the home
	c.waitFor("the next parked send to wait at the home instead", func() bool {
		return slices.Equal(c.homeSenders(ch), ids[2:3])
	})
	c.prog(0, "recv", recvN(ch, 5)...)
	res := c.collect(6)
	assert.Equal(t, []int{0, 1, 3, 4, 5}, res["recv"].Got)
	senderLogs(t, res, map[string][]string{"s2": {"err:" + tasklet.ErrKilled.Error()}})
}

func TestCloseFailsTheParkedSends(t *testing.T) {
	c, ch, _ := creditQueue(t, 2)
	c.on(0, func(s *scheduler.Scheduler) { require.NoError(t, s.Close(ch)) })
	res := c.collect(5)
	closed := []string{"err:" + channel.ErrClosed.Error()}
	senderLogs(t, res, map[string][]string{"s2": closed, "s3": closed, "s4": closed, "s5": closed})
	assert.Zero(t, c.parked(1, ch))
	c.waitBalance(ch, 0)
	c.prog(0, "recv", recvN(ch, 2)...)
	assert.Equal(t, []int{0, 1}, c.collect(1)["recv"].Got, "the completed sends are drained after the close")
}

func TestMigratingAParkedSenderKeepsTheOrder(t *testing.T) {
	c, ch, ids := creditQueue(t, 3)
	m := &mover{c: c, id: ids[3], at: 1} // s4
	require.True(t, m.to(t, 2))
	assert.Equal(t, 1, c.parked(1, ch), "s3 went before it, s5 stays parked")
	c.prog(0, "recv", recvN(ch, 6)...)
	res := c.collect(6)
	assert.Equal(t, ints(0, 5), res["recv"].Got)
	senderLogs(t, res, nil)
}

func TestReleasedCreditWaitsAreSavedAtTheHome(t *testing.T) {
	c, ch, ids := creditQueue(t, 2)
	c.on(1, func(*scheduler.Scheduler) { c.nodes[1].ReleaseCreditWaits() })
	assert.Zero(t, c.parked(1, ch))
	c.waitFor("the released sends in the home's queue", func() bool { return len(c.homeSenders(ch)) == 4 })
	c.waitBalance(ch, 4) // now all in the queue, none counted by number
	assert.Equal(t, ids[1:], c.homeSenders(ch), "the home's snapshot holds every waiting send, in order")
	c.on(1, func(s *scheduler.Scheduler) {
		for _, id := range ids[1:] {
			wt, ok := s.WaitOf(id)
			if assert.True(t, ok, "sender %v is saved blocked", id) {
				assert.Equal(t, ch, wt.Cases[0].Chan)
			}
		}
	})
	c.prog(0, "recv", recvN(ch, 6)...)
	res := c.collect(6)
	assert.Equal(t, ints(0, 5), res["recv"].Got)
	senderLogs(t, res, nil)
}

// A queue of parked sends that never empties keeps a bounded slice: it
// reuses what was popped rather than growing with every send that parked.
func TestSendQueueNeverEmptyStaysBounded(t *testing.T) {
	var q sendQueue
	next := tasklet.ID(1)
	for range 64 {
		q.push(parkedSend{next, 1}, nil)
		next++
	}
	for range 100_000 {
		p, ok := q.pop()
		require.True(t, ok)
		require.Equal(t, next-64, p.id, "first in, first out")
		q.push(parkedSend{next, 1}, nil)
		next++
	}
	assert.Equal(t, 64, q.waiting())
	assert.LessOrEqual(t, cap(q.parked), 256, "the slice grew with the sends that ever parked")
}

// told is how many parked sends node i last told ch's home of (WAITING).
func (c *cluster) told(i int, ch channel.ID) int {
	k := 0
	c.on(i, func(*scheduler.Scheduler) { k = c.nodes[i].cr.told[ch] })
	return k
}

// Senders that park over several bursts of a run (256 steps each) are
// told to the home once, when the node idles, not once a burst: a stream
// paid three to four WAITING frames a round for counts nobody read.
func TestSendsParkedOverSeveralBurstsAreToldOnce(t *testing.T) {
	c := newCluster(t, 2)
	ch := c.ch(0, 2)
	first := &sendSeq{Out: ch, From: 0, To: 1, done: make(chan struct{})}
	c.spawn(1, first)
	waitClosed(t, first.done, "the first send (a round trip)")
	c.waitFor("credit for the room left", func() bool { return c.credit(1, ch) == 1 })

	const senders = 700 // three bursts
	frames := func() uint64 { return c.nodes[1].Stats().PerLink[0].FramesOut }
	release := c.gate(0)
	before := frames()
	c.on(1, func(s *scheduler.Scheduler) {
		for v := 1; v <= senders; v++ {
			s.Spawn(&sendSeq{Out: ch, From: v, To: v + 1, done: make(chan struct{})})
		}
	})
	// 1 goes on credit, 2 as the OP that stands for node 1, the rest park.
	// Nothing asks node 1's scheduler anything (c.on) while they do: each
	// question ends a burst early.
	c.waitFor("three frames from node 1", func() bool { return frames()-before >= 3 })
	c.waitFor("the home told of every parked send", func() bool { return c.told(1, ch) == senders-2 })
	assert.Equal(t, uint64(3), frames()-before, "one PUTS, one OP and one WAITING, with the count the senders ended at")
	release(nil)
	c.waitBalance(ch, senders-1)
}
