package scheduler

import (
	"context"
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

// This file gives the host (the goroutine that owns the scheduler, Stackless's
// main tasklet) what Stackless's main program does with ch.receive(),
// ch.send(v) and tasklet.run(): wait on a channel while the tasklets run,
// and choose which tasklet runs next.
//
// While it waits, the host is a record with ID 0 that never steps: it sits
// in the channel's queue like a blocked tasklet (FIFO with the tasklets,
// counted in the balance, woken by the same transfer rules), and when a
// transfer makes it runnable it waits in the run queue for its turn; its
// turn ends the wait. It is not a tasklet of the world: Len, Tasklets and
// World do not show it, and a snapshot taken while it waits does not hold
// its pending operation.

// hostID is the ID of the host's record; no tasklet has it.
const hostID tasklet.ID = 0

// Recv receives a value from ch on behalf of the host. A value that is ready
// (buffered, or offered by a blocked sender) is taken at once and Recv
// returns without running anything, as in Stackless. Otherwise the host
// waits in ch's queue, in FIFO order with the tasklets, and the scheduler
// runs tasklets (as Run does) until one hands it a value; then the host goes
// on when its turn comes, by ch's preference (a sender that prefers the
// receiver switches to it at once).
//
// An error sent with SendErr comes back as the error; a closed, drained
// channel gives channel.ErrClosed. When the tasklets deadlock, or all finish,
// with the host still waiting, Recv returns a *DeadlockError naming the host
// (ID 0) first (Stackless: "the main tasklet is receiving without a sender
// available"). When a tasklet fails and no error handler is set, Recv
// returns its *TaskletError, as Stackless raises it in the blocked main
// tasklet; when ctx ends it returns ctx.Err(). Either way the host stops
// waiting and nothing was received.
//
// Call it from the goroutine that owns the scheduler, not from inside a
// step, a hook or a Do callback (ErrRunning). ch must be a channel of this
// node.
func (s *Scheduler) Recv(ctx context.Context, ch channel.ID) (any, error) {
	h, c, err := s.hostStart(ch, "recv")
	if err != nil {
		return nil, err
	}
	if s.onChannel != nil {
		s.onChannel(ChannelEvent{Chan: ch, Tasklet: hostID, WillBlock: c.Len() == 0 && !c.HasSenders() && !c.Closed()})
	}
	done, cont := s.recvReady(h, c, -1)
	if !done {
		if err := ctx.Err(); err != nil {
			return nil, s.hostEnd(h, err)
		}
		h.WaitOn(c, false)
		c.PushReceiver(channel.Waiter{T: h.T(), Seq: h.NextWait(), Case: -1})
		h.SetState(tasklet.Blocked)
	}
	if !cont {
		s.frontNext() // a partner that runs at once goes first
		if err := s.hostWait(ctx, h, ch, false); err != nil {
			return nil, s.hostEnd(h, err)
		}
	}
	v, err := h.Delivered()
	return v, s.hostEnd(h, err)
}

// Send sends v on ch on behalf of the host: to the first waiting receiver,
// or into the buffer, at once; otherwise the host waits in ch's queue and
// the scheduler runs tasklets until a receiver takes v. When a receiver
// takes it and ch prefers the receiver (the default), the receiver runs at
// once and the host goes on when its turn comes round, after the tasklets
// already runnable, as Stackless's main tasklet does after ch.send.
//
// It returns nil once v was taken, channel.ErrClosed when ch is or gets
// closed, and otherwise the errors of Recv (deadlock, a tasklet's failure,
// ctx.Err(), ErrRunning, or the error of the value check, WithValueCheck),
// in which case v was not sent.
func (s *Scheduler) Send(ctx context.Context, ch channel.ID, v any) error {
	if s.checkValue != nil {
		if err := s.refuseValue(hostID, ch, v); err != nil { // valuecheck.go
			return err
		}
	}
	h, c, err := s.hostStart(ch, "send")
	if err != nil {
		return err
	}
	if s.onChannel != nil {
		s.onChannel(ChannelEvent{Chan: ch, Tasklet: hostID, Sending: true, WillBlock: !c.HasReceivers() && c.BufFull() && !c.Closed()})
	}
	done, cont := s.sendReady(h, c, v, -1)
	if !done {
		if err := ctx.Err(); err != nil {
			return s.hostEnd(h, err)
		}
		h.WaitOn(c, true)
		c.PushSender(channel.Waiter{T: h.T(), Seq: h.NextWait(), Case: -1, Value: v})
		h.SetState(tasklet.Blocked)
	}
	if !cont {
		s.frontNext() // a partner that runs at once goes first
		if err := s.hostWait(ctx, h, ch, true); err != nil {
			return s.hostEnd(h, err)
		}
	}
	_, err = h.Delivered()
	return s.hostEnd(h, err)
}

// hostStart checks that the host may wait on ch now and readies its record.
func (s *Scheduler) hostStart(ch channel.ID, op string) (*rec, *channel.Channel, error) {
	if s.running > 0 || s.current != nil {
		return nil, nil, fmt.Errorf("scheduler: host %s on %v: %w; call it from the goroutine that owns the scheduler, between runs, not from a step, a hook or a Do callback", op, ch, ErrRunning)
	}
	c := s.chans.get(uint64(ch))
	if c == nil {
		if ch.Node() != s.node {
			return nil, nil, fmt.Errorf("scheduler: host %s on %v: %w; the host can only wait on channels of its own node (%d)", op, ch, ErrRemoteChannel, s.node)
		}
		_, err := s.chanFor(ch)
		return nil, nil, err
	}
	if s.hostT == nil {
		s.hostT = (*rec)(core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](uint64(hostID), nil, s.host))
	}
	h := s.hostT
	h.Deliver(nil, nil)
	h.SetChosen(-1)
	h.SetState(tasklet.Runnable) // "running": the host is the caller
	return h, c, nil
}

// hostWait runs the tasklets until the host's turn comes. The operation
// completed if the host was made runnable, even when the loop stopped for
// another reason first: a completed transfer is never undone. Otherwise the
// host stops waiting and the reason is returned.
func (s *Scheduler) hostWait(ctx context.Context, h *rec, ch channel.ID, send bool) error {
	w := &watch{total: -1, host: h}
	_, err := s.loop(ctx, w)
	if w.hostRan {
		return nil
	}
	if h.State() == tasklet.Runnable { // its turn had not come yet
		s.dequeue(h)
		if err != nil && !errors.Is(err, ctx.Err()) {
			s.failed = append(s.failed, err) // for the next call: the transfer wins
		}
		return nil
	}
	if h.State() == tasklet.Blocked {
		if c := s.chans.get(uint64(ch)); c != nil {
			if send {
				c.ForgetSender()
			} else {
				c.ForgetReceiver()
			}
			s.touchChan(c)
		}
		h.NextWait() // its queue entry is stale now
	}
	var de *DeadlockError
	if err == nil || errors.As(err, &de) {
		me := Waiting{ID: hostID, Kind: "host", Op: "receiving", Chans: []channel.ID{ch}}
		if send {
			me.Op = "sending"
		}
		if de == nil {
			return &DeadlockError{Blocked: []Waiting{me}}
		}
		de.Blocked = append([]Waiting{me}, de.Blocked...)
	}
	return err
}

// hostEnd leaves the host's record idle and passes err on.
func (s *Scheduler) hostEnd(h *rec, err error) error {
	h.Deliver(nil, nil)
	h.SetState(tasklet.Paused)
	s.settle()
	return err
}

// RunNext makes tasklet id the next one to step: a paused or new tasklet is
// inserted, a runnable one moves, both to the front of the run queue. From
// the host it takes effect at the next Run, RunBudget, Tick, Recv or Send;
// from inside a step (or a Do callback during a Run), right after the
// current step, before the running tasklet goes on.
//
// It is Stackless's tasklet.run() split in two, because a Go host cannot be
// suspended mid-call: run() inserts the tasklet and switches to it at once,
// the caller staying runnable; here RunNext chooses, and the host switches
// by running the scheduler. A step gets run() by calling RunNext and
// returning Continue (it goes on right after the chosen tasklet's step, as
// the caller of run() does), and tasklet.switch() (the caller paused) by
// calling RunNext and returning Pause.
//
// A blocked or sleeping tasklet cannot run (ErrBlocked: send to it, close its
// channel or kill it); a dead one gives ErrDead; the running tasklet itself
// is left alone.
func (s *Scheduler) RunNext(id tasklet.ID) error {
	t, err := s.lookup(id)
	if err != nil {
		return err
	}
	if t == s.current {
		return nil
	}
	switch t.State() {
	case tasklet.Blocked, tasklet.Sleeping:
		return fmt.Errorf("scheduler: run %v next: %w; send to it, close its channel or kill it", id, ErrBlocked)
	case tasklet.Runnable:
		s.dequeue(t)
	case tasklet.Paused:
		s.paused--
	}
	t.SetState(tasklet.Runnable)
	s.touch(t)
	if s.current != nil {
		s.immediate = append(s.immediate, t)
	} else {
		s.runq.pushFront(t)
	}
	return nil
}
