package scheduler

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// The send of a fan-in: many senders on the buffered channel a server
// drains with TryRecvMany (its inbox, fillCh). A send there mostly fills
// the buffer and goes on, or finds it full and waits: burst does either
// without opSend's call, whose frame and spills cost more than the send,
// with plainSends and sendWaits below. Any other send pays one compare
// (its channel against fillID) for it. The fill channel is set only while
// plainSends holds: setting a hook or a value check forgets it (change
// tracking is an option, on before any drain).

// noFill is fillCh when there is no fill channel, so that burst tests only
// fillID, not also whether fillCh is set: a send whose channel is fillID
// (0, which no channel has; a send on it finds none and fails in opSend)
// tries noFill, whose SendQuick finds no buffer and sends it to opSend.
// It is never changed, so every scheduler can share it.
var noFill = channel.New(0, 0)

// forgetFill makes every send take opSend until the next drain.
func (s *Scheduler) forgetFill() { s.fillCh, s.fillID = noFill, 0 }

// plainSends reports whether a send needs nothing but the channel: no
// value check, channel hook or change tracking.
func (s *Scheduler) plainSends() bool { return s.plain }

// sendWaits blocks t in a plain Send of v on local channel c, which can
// take v neither from a receiver nor into its buffer. The caller has
// called c.NoteBomb(v).
func (s *Scheduler) sendWaits(t *rec, c *channel.Channel, v any) bool {
	if t.BlockTrap() {
		t.Deliver(nil, tasklet.ErrBlockTrap)
		return true
	}
	t.WaitOn(c, true)
	if seq := t.NextWait(); !c.WaitToSend(t.T(), seq, v) {
		c.PushSender(channel.Waiter{T: t.T(), Seq: seq, Case: -1, Value: v})
	}
	t.SetState(tasklet.Blocked)
	return false
}
