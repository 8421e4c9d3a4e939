package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// World is a scheduler's whole state as plain data, for package pickle.
// Behaviors and values are the live ones, not copies: encode a World before
// the scheduler runs another step.
type World struct {
	Node        uint16
	Clock       time.Duration
	NextTasklet uint64
	NextChannel uint64
	Tick        uint32
	Steps       uint64
	TimerSeq    uint64
	Tasklets    []TaskletState // in ID order
	Channels    []ChannelState // in ID order
	RunQueue    []tasklet.ID   // in run order
	Timers      []TimerState   // in firing order
}

// TaskletState is one tasklet's bookkeeping and behavior.
type TaskletState struct {
	ID       tasklet.ID
	Behavior tasklet.Behavior
	State    tasklet.State
	Flags    uint8
	Steps    uint64
	Wait     uint32
	Chosen   int
	Value    any            // delivered, not yet seen by a step
	Err      error          // delivered, not yet seen by a step
	Cases    []tasklet.Case // what a blocked tasklet waits on
	Plain    bool           // the wait is a plain Send or Recv, not a Select
}

// ChannelState is one channel with its buffer and its queues in order.
type ChannelState struct {
	ID          channel.ID
	Cap         int
	Preference  int
	ScheduleAll bool
	Closed      bool
	Buffer      []any
	Senders     []WaiterState
	Receivers   []WaiterState
}

// WaiterState is a blocked operation in a channel queue. Tasklet 0 is a
// value posted from outside; Remote marks the wait of a tasklet on node
// Node (with its wait sequence Seq).
type WaiterState struct {
	Tasklet tasklet.ID
	Case    int
	Value   any
	Remote  bool
	Node    uint16
	Seq     uint32
}

// isHost reports whether a queue entry is the host's, waiting in Recv or
// Send. The host is not part of the world: snapshots leave it out.
func isHost(w channel.Waiter) bool { return w.T != nil && recOf(w.T).ID() == hostID }

func waiterState(w channel.Waiter) WaiterState {
	if r := w.Remote(); r != nil {
		return WaiterState{Tasklet: r.Tasklet, Case: int(w.Case), Value: r.Value, Remote: true, Node: r.Node, Seq: r.Seq}
	}
	return WaiterState{Tasklet: waiterID(w), Case: int(w.Case), Value: w.Value}
}

// TimerState is a pending sleep (Case -1) or select timeout.
type TimerState struct {
	At      time.Duration
	Seq     uint64
	Tasklet tasklet.ID
	Case    int
}

// WorldHeader returns the scheduler's state without its tasklets and
// channels: clock, counters, run queue and timers. An incremental
// checkpoint stores it whole and only the changed records.
func (s *Scheduler) WorldHeader() *World {
	return &World{Node: s.node, Clock: s.clock.Now(), NextTasklet: s.nextT, NextChannel: s.nextC,
		Tick: s.tick, Steps: s.steps, TimerSeq: s.timerSeq, RunQueue: s.RunQueue(), Timers: s.liveTimers()}
}

// Tracking reports whether the scheduler records changes for TakeChanges.
func (s *Scheduler) Tracking() bool { return s.track }

// World returns the scheduler's state. Call it between steps. The
// tasklets' cases and the channels' waiters are carved from a few large
// blocks (a checkpoint of a big world allocated a slice per tasklet).
func (s *Scheduler) World() *World {
	w := s.WorldHeader()
	var sl worldSlabs
	w.Tasklets = make([]TaskletState, 0, s.tasks.n)
	s.tasks.each(func(t *rec) { w.Tasklets = append(w.Tasklets, taskletStateOf(t, &sl)) })
	w.Channels = make([]ChannelState, 0, s.chans.n)
	s.chans.each(func(c *channel.Channel) { w.Channels = append(w.Channels, channelStateOf(c, &sl)) })
	return w
}

// worldSlabs hand out the cases and waiters of one World (nil: a slice each).
type worldSlabs struct {
	cases   []tasklet.Case
	waiters []WaiterState
}

const worldSlabBlock = 1024

// carve returns a full-capacity slice of n from *slab, refilled with
// blocks of worldSlabBlock (nil slab or a big n: a slice of its own).
func carve[E any](slab *[]E, n int) []E {
	if slab == nil || n > worldSlabBlock {
		return make([]E, n)
	}
	if len(*slab) < n {
		*slab = make([]E, worldSlabBlock)
	}
	out := (*slab)[:n:n]
	*slab = (*slab)[n:]
	return out
}

// taskletStateOf reads a tasklet record.
func taskletStateOf(t *rec, sl *worldSlabs) TaskletState {
	v, err := t.Delivered()
	ts := TaskletState{ID: t.ID(), Behavior: t.Behavior(), State: t.State(), Flags: t.Flags(),
		Steps: t.Steps(), Wait: t.WaitSeq(), Chosen: t.Chosen(), Value: v, Err: err}
	if t.State() == tasklet.Blocked {
		var slab *[]tasklet.Case
		if sl != nil {
			slab = &sl.cases
		}
		if cs, ok := t.plainCase(); ok {
			ts.Cases, ts.Plain = carve(slab, 1), true
			ts.Cases[0] = cs
		} else if cs, ok := t.carried(); ok {
			ts.Cases, ts.Value = carve(slab, 1), nil // the value is the case's
			ts.Cases[0] = cs
		} else {
			cases := t.SelectCases()
			ts.Cases = carve(slab, len(cases))
			copy(ts.Cases, cases)
		}
	}
	return ts
}

// ChannelStateOf reads a channel.
func ChannelStateOf(c *channel.Channel) ChannelState { return channelStateOf(c, nil) }

func channelStateOf(c *channel.Channel, sl *worldSlabs) ChannelState {
	cs := ChannelState{ID: c.ID(), Cap: c.Cap(), Preference: c.Preference(), ScheduleAll: c.ScheduleAll(),
		Closed: c.Closed(), Buffer: c.Buffer()}
	var slab *[]WaiterState
	if sl != nil {
		slab = &sl.waiters
	}
	cs.Senders = waiterStates(c.Senders(), slab)
	cs.Receivers = waiterStates(c.Receivers(), slab)
	return cs
}

// waiterStates reads a channel queue, leaving out the host's entry.
func waiterStates(q []channel.Waiter, slab *[]WaiterState) []WaiterState {
	n := 0
	for _, w := range q {
		if !isHost(w) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := carve(slab, n)[:0]
	for _, w := range q {
		if !isHost(w) {
			out = append(out, waiterState(w))
		}
	}
	return out
}

// record makes the tasklet record of a saved or arriving tasklet.
func (s *Scheduler) record(ts *TaskletState) *rec {
	t := s.makeRec(ts.ID, ts.Behavior)
	t.SetState(ts.State)
	t.SetFlags(ts.Flags)
	t.SetSteps(ts.Steps)
	t.SetWaitSeq(ts.Wait)
	t.SetChosen(ts.Chosen)
	t.Deliver(ts.Value, ts.Err)
	if c := s.plainChan(ts); c != nil {
		t.WaitOn(c, ts.Cases[0].Dir == tasklet.DirSend) // no ID of its own to allocate
	} else {
		t.SetCases(ts.Cases, ts.Plain)
	}
	return t
}

// plainChan is the channel of a saved plain wait when it is one of this
// scheduler's, or nil.
func (s *Scheduler) plainChan(ts *TaskletState) *channel.Channel {
	if !ts.Plain || len(ts.Cases) != 1 {
		return nil
	}
	return s.chans.get(uint64(ts.Cases[0].Chan))
}

// TaskletState returns one live tasklet's state (for a single-tasklet snapshot).
func (s *Scheduler) TaskletState(id tasklet.ID) (TaskletState, error) {
	t, err := s.lookup(id)
	if err != nil {
		return TaskletState{}, err
	}
	return taskletStateOf(t, nil), nil
}

// ChannelState returns one channel's state.
func (s *Scheduler) ChannelState(id channel.ID) (ChannelState, error) {
	c := s.chans.get(uint64(id))
	if c == nil {
		_, err := s.chanFor(id)
		return ChannelState{}, err
	}
	return ChannelStateOf(c), nil
}

func (s *Scheduler) liveTimers() []TimerState {
	var out []TimerState
	s.timers.each(func(tm *timer) {
		if tm.live() {
			out = append(out, TimerState{At: tm.at, Seq: tm.seq, Tasklet: tm.t.ID(), Case: int(tm.idx)})
		}
	})
	slices.SortFunc(out, func(a, b TimerState) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Seq, b.Seq))
	})
	return out
}

// bornPast reports whether id, a tasklet's or a channel's, was born on node
// with a sequence number past next, the last that node handed out, and
// that number. IDs born on other nodes (moved or merged here) are theirs.
func bornPast(id uint64, node uint16, next uint64) (seq uint64, past bool) {
	seq = id & (1<<tasklet.NodeBits - 1)
	return seq, uint16(id>>tasklet.NodeBits) == node && seq > next
}

// checkWait says what is wrong with a tasklet's saved wait in world w, or
// "". Only a blocked tasklet waits, and it holds no delivery (a plain
// wait's channel shares the record's field of a delivered value); a plain
// wait is one Send or Recv; no case waits on a channel of w's node that was
// never made (the next NewChannel would make it without the waiter).
func checkWait(ts *TaskletState, w *World) string {
	if ts.State != tasklet.Blocked && (len(ts.Cases) > 0 || ts.Plain) {
		return fmt.Sprintf("is %v but has the cases of a wait: only a blocked tasklet waits", ts.State)
	}
	if ts.State == tasklet.Blocked && (ts.Value != nil || ts.Err != nil) {
		return "is blocked but holds a delivered value or error: a delivery wakes its tasklet"
	}
	for i, c := range ts.Cases {
		if c.Dir > tasklet.DirDo {
			return fmt.Sprintf("has case %d with direction %d, which no case has", i, c.Dir)
		}
		if c.Dir == tasklet.DirDo && c.Effect == "" {
			return fmt.Sprintf("has effect case %d that names no effect", i)
		}
		if seq, ok := bornPast(uint64(c.Chan), w.Node, w.NextChannel); ok && (c.Dir == tasklet.DirRecv || c.Dir == tasklet.DirSend) {
			return fmt.Sprintf("waits in case %d on channel %v, number %d of node %d, which was never made (NextChannel is %d)",
				i, c.Chan, seq, w.Node, w.NextChannel)
		}
	}
	if ts.Plain && (len(ts.Cases) != 1 || (ts.Cases[0].Dir != tasklet.DirRecv && ts.Cases[0].Dir != tasklet.DirSend)) {
		return fmt.Sprintf("has a plain wait of %d cases: a plain wait is one Send or Recv", len(ts.Cases))
	}
	return ""
}

// Restore builds a scheduler from a World (decoded by package pickle, so it
// is checked: a world that refers to tasklets or channels it does not hold
// is refused with ErrInvalidRestore, as is one whose NextTasklet or
// NextChannel is behind the IDs it holds). Without a clock option the scheduler
// gets a virtual clock reading w.Clock; a VirtualClock passed in is moved
// to w.Clock; any other clock must read w.Clock or later.
func Restore(w *World, opts ...Option) (*Scheduler, error) {
	s := New(opts...)
	if s.vclock != nil {
		s.vclock.Set(w.Clock)
	} else if now := s.clock.Now(); now < w.Clock {
		// Timers hold deadlines on the world's clock: one reading behind it
		// (NewRealClock(0)) would make every sleeper wait that much longer.
		return nil, fmt.Errorf("scheduler: restore: %w: the clock given with WithClock reads %v, before the world's time %v (when it was saved), so its sleepers and timeouts would wait %v too long; give WithClock(NewRealClock(w.Clock)) for wall time going on from the save, or a VirtualClock",
			ErrInvalidRestore, now, w.Clock, w.Clock-now)
	}
	s.node, s.nextT, s.nextC, s.tick, s.steps, s.timerSeq = w.Node, w.NextTasklet, w.NextChannel, w.Tick, w.Steps, w.TimerSeq
	bad := func(format string, a ...any) (*Scheduler, error) {
		return nil, fmt.Errorf("scheduler: restore: %w: %s", ErrInvalidRestore, fmt.Sprintf(format, a...))
	}
	// The channels first, their queues after the tasklets: a tasklet's
	// plain wait names its channel by the ID the channel holds.
	for i := range w.Channels {
		cs := &w.Channels[i]
		if cs.ID == 0 || s.chans.get(uint64(cs.ID)) != nil {
			return bad("channel ID %v is zero or repeated", cs.ID)
		}
		if seq, ok := bornPast(uint64(cs.ID), w.Node, w.NextChannel); ok {
			return bad("channel %v is number %d of node %d, past the world's NextChannel %d: the next NewChannel would take its ID (NextChannel must be at least %d)",
				cs.ID, seq, w.Node, w.NextChannel, seq)
		}
		// A wait is queued only while it cannot go on: a receiver while
		// nothing is buffered, a sender while the buffer is full, nobody
		// once closed. Restored otherwise, the waiters would sleep beside
		// what they wait for until another operation woke them.
		switch {
		case cs.Cap < 0 || len(cs.Buffer) > max(cs.Cap, 0):
			return bad("channel %v holds %d values with capacity %d", cs.ID, len(cs.Buffer), cs.Cap)
		case cs.Closed && len(cs.Senders)+len(cs.Receivers) > 0:
			return bad("channel %v is closed but queues %d senders and %d receivers (closing wakes them all with ErrClosed)", cs.ID, len(cs.Senders), len(cs.Receivers))
		case len(cs.Receivers) > 0 && len(cs.Buffer) > 0:
			return bad("channel %v queues %d receivers while it buffers %d values (a receiver waits only on an empty buffer)", cs.ID, len(cs.Receivers), len(cs.Buffer))
		case len(cs.Senders) > 0 && len(cs.Buffer) < cs.Cap:
			return bad("channel %v queues %d senders while its buffer has room (%d of %d values; a sender waits only on a full buffer)", cs.ID, len(cs.Senders), len(cs.Buffer), cs.Cap)
		}
		c := channel.New(cs.ID, cs.Cap)
		c.SetPreference(cs.Preference)
		c.SetScheduleAll(cs.ScheduleAll)
		c.SetClosed(cs.Closed)
		for _, v := range cs.Buffer {
			c.BufPush(v)
		}
		s.chans.put(uint64(cs.ID), c)
		s.noCh = 0
	}
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		if ts.ID == 0 || s.tasks.get(uint64(ts.ID)) != nil {
			return bad("tasklet ID %v is zero or repeated", ts.ID)
		}
		if seq, ok := bornPast(uint64(ts.ID), w.Node, w.NextTasklet); ok {
			return bad("tasklet %v is number %d of node %d, past the world's NextTasklet %d: the next Spawn would take its ID (NextTasklet must be at least %d)",
				ts.ID, seq, w.Node, w.NextTasklet, seq)
		}
		if ts.Behavior == nil {
			return bad("tasklet %v has no behavior", ts.ID)
		}
		if !ts.State.Alive() || ts.State > tasklet.Dead {
			return bad("tasklet %v has state %v", ts.ID, ts.State)
		}
		if err := checkWait(ts, w); err != "" {
			return bad("tasklet %v %s", ts.ID, err)
		}
		t := s.record(ts)
		if ts.State == tasklet.Paused {
			s.paused++
		}
		s.tasks.put(uint64(ts.ID), t)
	}
	// Every queue entry of a local tasklet must match one of its cases, and
	// every Send or Recv case on a channel of this world must be queued once:
	// a wait queued in only some of its channels would wake wrongly later.
	type queued struct {
		t *rec
		c int
	}
	// Case 0, the only case of a plain wait, is the tasklet's scratch mark
	// (clear until the run queue check below uses it): a map entry per
	// blocked tasklet was a fifth of a big world's restore. A select's other
	// cases take map entries.
	seenHigh := map[queued]bool{}
	seen := func(t *rec, ci int) bool {
		if ci == 0 {
			return t.Marked()
		}
		return seenHigh[queued{t, ci}]
	}
	see := func(t *rec, ci int) {
		if ci == 0 {
			t.SetMark(true)
		} else {
			seenHigh[queued{t, ci}] = true
		}
	}
	for i := range w.Channels {
		cs := &w.Channels[i]
		c := s.chans.get(uint64(cs.ID))
		for _, q := range []struct {
			ws   []WaiterState
			send bool
		}{{cs.Senders, true}, {cs.Receivers, false}} {
			dir := tasklet.DirRecv
			if q.send {
				dir = tasklet.DirSend
			}
			for _, ws := range q.ws {
				wt := channel.Waiter{Case: int32(ws.Case), Value: ws.Value}
				if ws.Remote {
					key := RemoteWait{Node: ws.Node, Tasklet: ws.Tasklet, Seq: ws.Seq}
					g := s.rwaits[key]
					if g == nil {
						g = &remoteGroup{}
						s.rwait(key, g)
					}
					wt.Value = &channel.Remote{Node: ws.Node, Tasklet: ws.Tasklet, Seq: ws.Seq, Value: ws.Value, Done: &g.done}
					g.refs = append(g.refs, remoteRef{ch: cs.ID, send: q.send, idx: int32(ws.Case)})
				} else if ws.Tasklet != 0 {
					t := s.tasks.get(uint64(ws.Tasklet))
					if t == nil || t.State() != tasklet.Blocked {
						return bad("channel %v queues tasklet %v, which is not a blocked tasklet of this world", cs.ID, ws.Tasklet)
					}
					var one [1]tasklet.Case
					cases := t.casesIn(&one)
					ci := ws.Case
					if ci == -1 && t.Plain() {
						ci = 0
					}
					if ci < 0 || ci >= len(cases) || (ws.Case == -1) != t.Plain() || cases[ci].Chan != cs.ID || cases[ci].Dir != dir {
						return bad("channel %v queues tasklet %v for case %d, which is not a %v on this channel", cs.ID, ws.Tasklet, ws.Case, dir)
					}
					if seen(t, ci) {
						return bad("channel %v queues case %d of tasklet %v twice", cs.ID, ws.Case, ws.Tasklet)
					}
					see(t, ci)
					wt.T, wt.Seq = t.T(), t.WaitSeq()
				} else if !q.send {
					return bad("channel %v has a receiver without a tasklet", cs.ID)
				}
				if q.send {
					c.PushSender(wt)
				} else {
					c.PushReceiver(wt)
				}
			}
		}
	}
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		if ts.State != tasklet.Blocked {
			continue
		}
		t := s.tasks.get(uint64(ts.ID))
		var one [1]tasklet.Case
		for ci, cs := range t.casesIn(&one) {
			if (cs.Dir == tasklet.DirRecv || cs.Dir == tasklet.DirSend) && s.chans.get(uint64(cs.Chan)) != nil && !seen(t, ci) {
				return bad("tasklet %v waits on case %d (%v on %v) but is not in that channel's queue", ts.ID, ci, cs.Dir, cs.Chan)
			}
		}
	}
	for _, id := range w.RunQueue {
		t := s.tasks.get(uint64(id))
		if t == nil || t.State() != tasklet.Runnable || t.Marked() {
			return bad("run queue holds %v, which is not a runnable tasklet or is queued twice", id)
		}
		t.SetMark(true)
		s.runq.pushBack(t)
	}
	for _, tm := range w.Timers {
		t := s.tasks.get(uint64(tm.Tasklet))
		if t == nil || (t.State() != tasklet.Sleeping && t.State() != tasklet.Blocked) {
			return bad("timer for %v, which is not a sleeping or blocked tasklet", tm.Tasklet)
		}
		// A sleep's timer (case -1) wakes a sleeping tasklet; a select's
		// names its timeout case. Fired the other way, a sleep's timer would
		// make a blocked tasklet runnable while its channels still queue it.
		var one [1]tasklet.Case
		cases := t.casesIn(&one)
		if t.State() == tasklet.Sleeping && tm.Case != -1 {
			return bad("timer for %v names case %d, but the tasklet sleeps (a sleep's timer names case -1)", tm.Tasklet, tm.Case)
		}
		if t.State() == tasklet.Blocked && (tm.Case < 0 || tm.Case >= len(cases) || cases[tm.Case].Dir != tasklet.DirTimeout) {
			return bad("timer for %v names case %d, which is not a timeout case of its wait", tm.Tasklet, tm.Case)
		}
		if t.State() == tasklet.Sleeping {
			t.SetMark(true) // a sleeping tasklet is in no queue: the mark is free
		}
		s.timers.push(timer{at: tm.At, seq: tm.Seq, t: t, wait: t.WaitSeq(), idx: int32(tm.Case)})
	}
	var err error
	s.tasks.each(func(t *rec) {
		if err == nil && t.State() == tasklet.Runnable && !t.Marked() {
			err = fmt.Errorf("scheduler: restore: %w: runnable tasklet %v is not in the run queue", ErrInvalidRestore, t.ID())
		}
		if err == nil && t.State() == tasklet.Sleeping && !t.Marked() {
			err = fmt.Errorf("scheduler: restore: %w: sleeping tasklet %v has no timer to wake it", ErrInvalidRestore, t.ID())
		}
		t.SetMark(false)
	})
	if err != nil {
		return nil, err
	}
	// A select that waits with a timeout case has its timer: without one it
	// would never time out. (The marks are all clear again here.)
	for _, tm := range w.Timers {
		if t := s.tasks.get(uint64(tm.Tasklet)); t.State() == tasklet.Blocked {
			t.SetMark(true)
		}
	}
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		if ts.State != tasklet.Blocked || ts.Plain {
			continue
		}
		t := s.tasks.get(uint64(ts.ID))
		if !t.Marked() && slices.ContainsFunc(ts.Cases, func(c tasklet.Case) bool { return c.Dir == tasklet.DirTimeout && c.Timeout > 0 }) {
			return bad("tasklet %v waits in a select with a timeout, which has no timer", ts.ID)
		}
		t.SetMark(false)
	}
	if s.fx != nil {
		s.fx.reissue() // calls in flight when the world was saved, with their keys
	}
	return s, nil
}
