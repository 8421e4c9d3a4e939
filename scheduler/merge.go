package scheduler

import (
	"cmp"
	"fmt"
	"slices"
)

// Drain applies the input posted with Post and Do so far, without running
// any step. A cluster checkpoint uses it: with the scheduler paused, the
// messages that were in flight become part of the world.
func (s *Scheduler) Drain() {
	if s.inboxN.Load() != 0 {
		s.drainInbox()
	}
	s.settle()
}

// Merge combines the worlds of several nodes into one world for node
// `node`, so a cluster checkpoint taken on N workers can be restored on
// fewer. IDs stay as they are (they are unique across the cluster); the
// channels of every merged node are hosted by the new one, and the remote
// waiters of tasklets that are now local become local waiters again.
// Timers keep the time they had left; the clock is the latest of the
// worlds'. New IDs are handed out under `node`, continuing its counters
// if it is one of the merged nodes.
func Merge(node uint16, worlds ...*World) (*World, error) {
	m := &World{Node: node}
	merged := map[uint16]bool{}
	for _, w := range worlds {
		merged[w.Node] = true
		m.Clock = max(m.Clock, w.Clock)
		m.Tick = max(m.Tick, w.Tick)
		m.Steps += w.Steps
		if w.Node == node {
			m.NextTasklet, m.NextChannel = w.NextTasklet, w.NextChannel
		}
	}
	for _, w := range worlds {
		shift := m.Clock - w.Clock
		m.Tasklets = append(m.Tasklets, w.Tasklets...)
		m.RunQueue = append(m.RunQueue, w.RunQueue...)
		for _, tm := range w.Timers {
			tm.At += shift
			m.Timers = append(m.Timers, tm)
		}
		for _, cs := range w.Channels {
			cs.Senders = localize(cs.Senders, merged)
			cs.Receivers = localize(cs.Receivers, merged)
			m.Channels = append(m.Channels, cs)
		}
	}
	slices.SortFunc(m.Tasklets, func(a, b TaskletState) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(m.Channels, func(a, b ChannelState) int { return cmp.Compare(a.ID, b.ID) })
	for i := 1; i < len(m.Tasklets); i++ {
		if m.Tasklets[i].ID == m.Tasklets[i-1].ID {
			return nil, fmt.Errorf("scheduler: merge: tasklet %v is in two worlds: %w", m.Tasklets[i].ID, ErrInvalidRestore)
		}
	}
	for i := 1; i < len(m.Channels); i++ {
		if m.Channels[i].ID == m.Channels[i-1].ID {
			return nil, fmt.Errorf("scheduler: merge: channel %v is in two worlds: %w", m.Channels[i].ID, ErrInvalidRestore)
		}
	}
	slices.SortStableFunc(m.Timers, func(a, b TimerState) int { return cmp.Compare(a.At, b.At) })
	for i := range m.Timers {
		m.Timers[i].Seq = uint64(i + 1)
	}
	m.TimerSeq = uint64(len(m.Timers))
	return m, nil
}

// localize turns remote waiters of merged nodes into local ones.
func localize(ws []WaiterState, merged map[uint16]bool) []WaiterState {
	out := slices.Clone(ws)
	for i := range out {
		if out[i].Remote && merged[out[i].Node] {
			out[i].Remote, out[i].Node, out[i].Seq = false, 0, 0
		}
	}
	return out
}
