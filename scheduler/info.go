package scheduler

import (
	"iter"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Info describes a tasklet for the CLI and for debugging.
type Info struct {
	ID     tasklet.ID
	Kind   string
	State  tasklet.State
	Steps  uint64
	Atomic bool
	Op     string        // for a blocked tasklet: "receiving", "sending", "selecting"
	Chans  []channel.ID  // what a blocked tasklet waits on
	WakeAt time.Duration // a sleeper's deadline: set by Tasklets and Info, not by All and After
}

// ChannelInfo describes a channel.
type ChannelInfo struct {
	ID          channel.ID
	Cap         int
	Len         int
	Balance     int
	Preference  int
	ScheduleAll bool
	Closed      bool
	Senders     []tasklet.ID // blocked, in queue order (0: a posted value, or the host in Send)
	Receivers   []tasklet.ID // blocked, in queue order (0: the host in Recv)
}

func (s *Scheduler) waiting(t *rec) Waiting {
	w := Waiting{ID: t.ID(), Kind: s.KindOf(t.Behavior())}
	var one [1]tasklet.Case
	cases := t.casesIn(&one)
	for _, cs := range cases {
		if cs.Dir == tasklet.DirRecv || cs.Dir == tasklet.DirSend {
			w.Chans = append(w.Chans, cs.Chan)
		}
	}
	switch {
	case len(cases) == 1 && cases[0].Dir == tasklet.DirDo:
		w.Op = "doing effect " + cases[0].Effect
	case len(cases) != 1:
		w.Op = "selecting"
	case cases[0].Dir == tasklet.DirSend:
		w.Op = "sending"
	default:
		w.Op = "receiving"
	}
	return w
}

// info describes t. wake gives a sleeping tasklet's deadline: finding it
// walks every timer, which a listing does once for all (wakeTimes), not once
// a sleeper (a listing of 30,000 sleepers took 1.8 s that way).
func (s *Scheduler) info(t *rec, wake func(*rec) time.Duration) Info {
	in := Info{ID: t.ID(), Kind: s.KindOf(t.Behavior()), State: t.State(), Steps: t.Steps(), Atomic: t.Atomic()}
	switch t.State() {
	case tasklet.Blocked:
		w := s.waiting(t)
		in.Op, in.Chans = w.Op, w.Chans
	case tasklet.Sleeping:
		in.Op = "sleeping"
		in.WakeAt = wake(t)
	}
	return in
}

// wakeTime finds t's deadline among all the timers.
func (s *Scheduler) wakeTime(t *rec) time.Duration {
	var at time.Duration
	s.timers.each(func(tm *timer) {
		if tm.t == t && tm.live() {
			at = tm.at
		}
	})
	return at
}

// wakeTimes returns the deadline lookup of a listing: the live timers'
// deadlines, gathered in one walk at the first sleeper asked about.
func (s *Scheduler) wakeTimes() func(*rec) time.Duration {
	var m map[*rec]time.Duration
	return func(t *rec) time.Duration {
		if m == nil {
			m = make(map[*rec]time.Duration)
			s.timers.each(func(tm *timer) {
				if tm.live() && tm.t.State() == tasklet.Sleeping {
					m[tm.t] = tm.at
				}
			})
		}
		return m[t]
	}
}

// Info describes one live tasklet.
func (s *Scheduler) Info(id tasklet.ID) (Info, error) {
	t, err := s.lookup(id)
	if err != nil {
		return Info{ID: id, State: tasklet.Dead}, err
	}
	return s.info(t, s.wakeTime), nil
}

// Tasklets describes every live tasklet, in ID order.
func (s *Scheduler) Tasklets() []Info {
	out := make([]Info, 0, s.tasks.n)
	wake := s.wakeTimes()
	for t := range s.tasks.all() {
		out = append(out, s.info(t, wake))
	}
	return out
}

// All describes every live tasklet, in ID order, one at a time: a listing
// that keeps a few of a million need not hold them all. It leaves WakeAt
// zero: the deadlines are found by a walk of every timer, the cost of the
// whole listing again, which Tasklets and Info pay. Like every Scheduler
// method it must not run beside Run or Tick.
func (s *Scheduler) All() iter.Seq[Info] { return s.After(0) }

// After is All from the first ID above id on: a listing paged by ID
// starts where the page before it ended, without a walk up to there.
func (s *Scheduler) After(id tasklet.ID) iter.Seq[Info] {
	return func(yield func(Info) bool) {
		if id == ^tasklet.ID(0) {
			return
		}
		for t := range s.tasks.from(uint64(id) + 1) {
			if !yield(s.info(t, noWake)) {
				return
			}
		}
	}
}

func noWake(*rec) time.Duration { return 0 }

// CountAfter is the number of live tasklets with IDs above id.
func (s *Scheduler) CountAfter(id tasklet.ID) int {
	if id == ^tasklet.ID(0) {
		return 0
	}
	return s.tasks.countFrom(uint64(id) + 1)
}

// ChannelInfo describes one channel.
func (s *Scheduler) ChannelInfo(id channel.ID) (ChannelInfo, bool) {
	c := s.chans.get(uint64(id))
	if c == nil {
		return ChannelInfo{}, false
	}
	return chanInfo(c), true
}

func chanInfo(c *channel.Channel) ChannelInfo {
	in := ChannelInfo{ID: c.ID(), Cap: c.Cap(), Len: c.Len(), Balance: c.Balance(),
		Preference: c.Preference(), ScheduleAll: c.ScheduleAll(), Closed: c.Closed()}
	for _, w := range c.Senders() {
		in.Senders = append(in.Senders, waiterID(w))
	}
	for _, w := range c.Receivers() {
		in.Receivers = append(in.Receivers, waiterID(w))
	}
	return in
}

func waiterID(w channel.Waiter) tasklet.ID {
	if w.T == nil {
		return 0
	}
	return recOf(w.T).ID()
}

// Channels describes every channel, in ID order.
func (s *Scheduler) Channels() []ChannelInfo {
	out := make([]ChannelInfo, 0, s.chans.n)
	s.chans.each(func(c *channel.Channel) { out = append(out, chanInfo(c)) })
	return out
}

// RunQueue lists the runnable tasklets in the order they will run. During a
// Tick (from a Do or a checkpoint) the tasklets that already stepped in it
// come last. The host waiting for its turn in Recv or Send is no tasklet and
// is not listed.
func (s *Scheduler) RunQueue() []tasklet.ID {
	out := make([]tasklet.ID, 0, s.runq.len()+len(s.later))
	for i := range s.runq.len() {
		if t := s.runq.at(i); t != s.hostT {
			out = append(out, t.ID())
		}
	}
	for _, t := range s.later {
		out = append(out, t.ID())
	}
	return out
}
