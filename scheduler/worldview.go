package scheduler

import (
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// A full checkpoint of a big world used to copy it first (World): 100,000
// tasklets were 28 MB of fresh memory full of pointers, and the collector
// that memory woke was over half of the checkpoint's instructions. A
// WorldView reads the records where the scheduler keeps them instead, one
// ID page at a time, filling one reused TaskletState or ChannelState per
// reader: nothing is allocated per tasklet.

// WorldView is a stopped scheduler's world read in place: its header (a
// copy) and its tasklets and channels in ID order, in pages of up to 256.
// It is valid until the scheduler runs or changes again. Its readers only
// read, so several goroutines may read it at once, each with a reader of
// its own, as long as the scheduler does nothing meanwhile.
type WorldView struct {
	Header *World // clock, counters, run queue and timers; no tasklets or channels
	tpages []*page[rec]
	cpages []*page[channel.Channel]
}

// View returns a view of the scheduler's world. Call it between steps and
// finish reading it before the scheduler does anything else.
func (s *Scheduler) View() *WorldView {
	return &WorldView{Header: s.WorldHeader(), tpages: s.tasks.sortedPages(), cpages: s.chans.sortedPages()}
}

// Pages returns how many pages of tasklets and of channels the view has.
func (v *WorldView) Pages() (tasklets, channels int) { return len(v.tpages), len(v.cpages) }

// Counts returns how many tasklets and channels the view has.
func (v *WorldView) Counts() (tasklets, channels int) {
	for _, p := range v.tpages {
		tasklets += p.live
	}
	for _, p := range v.cpages {
		channels += p.live
	}
	return tasklets, channels
}

// sortedPages returns the table's pages in ID order.
func (tb *table[E]) sortedPages() []*page[E] {
	keys := make([]uint64, 0, len(tb.pages))
	for k := range tb.pages {
		keys = append(keys, k)
	}
	sortUint64(keys)
	out := make([]*page[E], len(keys))
	for i, k := range keys {
		out[i] = tb.pages[k]
	}
	return out
}

// WorldReader reads a WorldView's pages into reused states; one goroutine's.
type WorldReader struct {
	ts      TaskletState
	cs      ChannelState
	one     [1]tasklet.Case
	queue   []channel.Waiter
	waiters []WaiterState
}

// Tasklets calls fn for each tasklet of tasklet page p, in ID order, with
// its state as World holds it. The state and its Cases are the reader's
// (or the record's) and change with the next tasklet: fn must not keep them.
func (r *WorldReader) Tasklets(v *WorldView, p int, fn func(*TaskletState) error) error {
	for _, t := range v.tpages[p].slot {
		if t == nil {
			continue
		}
		val, err := t.Delivered()
		r.ts = TaskletState{ID: t.ID(), Behavior: t.Behavior(), State: t.State(), Flags: t.Flags(),
			Steps: t.Steps(), Wait: t.WaitSeq(), Chosen: t.Chosen(), Value: val, Err: err}
		if r.ts.State == tasklet.Blocked {
			r.ts.Cases, r.ts.Plain = r.cases(t), t.Plain()
			if _, ok := t.carried(); ok {
				r.ts.Value = nil // the value is the case's
			}
		}
		if err := fn(&r.ts); err != nil {
			return err
		}
	}
	return nil
}

// cases is rec.Cases without a slice for a plain wait.
func (r *WorldReader) cases(t *rec) []tasklet.Case {
	ch, send, ok := t.c().PlainWait()
	if !ok {
		return t.casesIn(&r.one)
	}
	r.one[0] = tasklet.Case{Dir: tasklet.DirRecv, Chan: tasklet.ChanID(ch)}
	if send {
		r.one[0].Dir = tasklet.DirSend
	}
	return r.one[:]
}

// Channels calls fn for each channel of channel page p, in ID order, with
// its state as World holds it; fn must not keep the state.
func (r *WorldReader) Channels(v *WorldView, p int, fn func(*ChannelState) error) error {
	for _, c := range v.cpages[p].slot {
		if c == nil {
			continue
		}
		r.cs = ChannelState{ID: c.ID(), Cap: c.Cap(), Preference: c.Preference(), ScheduleAll: c.ScheduleAll(),
			Closed: c.Closed()}
		if c.Len() > 0 {
			r.cs.Buffer = c.Buffer()
		}
		r.waiters = r.waiters[:0]
		r.cs.Senders = r.readQueue(c.AppendSenders(r.queue[:0]))
		r.cs.Receivers = r.readQueue(c.AppendReceivers(r.queue[:0]))
		if err := fn(&r.cs); err != nil {
			return err
		}
	}
	// Nothing of the world stays reachable through the scratch.
	clear(r.queue[:cap(r.queue)])
	clear(r.waiters[:cap(r.waiters)])
	return nil
}

// readQueue converts a queue's entries, leaving out the host's, into the
// reader's waiter states; nil when none is left, as World has it.
func (r *WorldReader) readQueue(q []channel.Waiter) []WaiterState {
	r.queue = q
	from := len(r.waiters)
	for _, w := range q {
		if !isHost(w) {
			r.waiters = append(r.waiters, waiterState(w))
		}
	}
	if len(r.waiters) == from {
		return nil
	}
	return r.waiters[from:len(r.waiters):len(r.waiters)]
}
