package scheduler_test

// Conformance tests of DESIGN.md "Semantics": World and Restore.

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// World and Restore

// snapshotWorld builds a world of progs and ticks it 3 times, which leaves:
// a blocked sender with its value (S1 on c1), a full buffer and a sender
// blocked on it (B on c2), a sleeper (Z), a select waiter with a timeout
// (W), a paused tasklet (P) and two runnable tasklets in order (Y1, Y2).
func snapshotWorld(t *testing.T) (s *scheduler.Scheduler, rec *record, pausedID tasklet.ID) {
	t.Helper()
	rec = &record{}
	s = scheduler.New()
	c1, c2, c3 := s.NewChannel(0), s.NewChannel(2), s.NewChannel(0)
	s.Channel(c3).SetPreference(channel.PreferSender)
	y := instr{Kind: iYield}
	progs := [][]instr{
		{{Kind: iSend, Ch: c1, Val: 101}, {Kind: iSend, Ch: c1, Val: 102}},                                                                   // S1
		{{Kind: iSend, Ch: c2, Val: 201}, {Kind: iSend, Ch: c2, Val: 202}, {Kind: iSend, Ch: c2, Val: 203}, {Kind: iSend, Ch: c2, Val: 204}}, // B
		{{Kind: iSleep, D: 5 * time.Second}, {Kind: iRecv, Ch: c1}, {Kind: iRecv, Ch: c1}, {Kind: iRecv, Ch: c3}},                            // Z
		{{Kind: iSelect, Cases: []tasklet.Case{tasklet.RecvCase(c3), tasklet.TimeoutCase(8 * time.Second)}}, {Kind: iRecv, Ch: c2}},          // W
		{{Kind: iPause}, y, {Kind: iSend, Ch: c3, Val: 301}},                                                                                 // P
		{y, y, y, y, {Kind: iRecv, Ch: c2}, {Kind: iRecv, Ch: c2}},                                                                           // Y1
		{y, y, y, y, y, {Kind: iSend, Ch: c3, Val: 302}, y, {Kind: iRecv, Ch: c2}},                                                           // Y2
	}
	for i, code := range progs {
		id := s.Spawn(&prog{Code: code, Rec: rec})
		if i == 4 {
			pausedID = id
		}
	}
	for range 3 {
		require.NoError(t, s.Tick())
	}
	return s, rec, pausedID
}

func finish(t *testing.T, s *scheduler.Scheduler, paused tasklet.ID) error {
	t.Helper()
	require.NoError(t, s.Insert(paused))
	return s.Run(t.Context())
}

func TestWorldRestoreRoundTrip(t *testing.T) {
	orig, rec, paused := snapshotWorld(t)
	w := orig.World()

	// The snapshot holds every kind of state the round trip must carry.
	byState := map[tasklet.State]int{}
	selectWaiters := 0
	for _, ts := range w.Tasklets {
		byState[ts.State]++
		if ts.State == tasklet.Blocked && !ts.Plain {
			selectWaiters++
		}
	}
	require.Equal(t, map[tasklet.State]int{tasklet.Blocked: 3, tasklet.Sleeping: 1, tasklet.Paused: 1, tasklet.Runnable: 2}, byState)
	require.Equal(t, 1, selectWaiters)
	require.Len(t, w.RunQueue, 2)
	require.Len(t, w.Timers, 2, "the sleep and the select's timeout")
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 1, Case: -1, Value: 101}}, w.Channels[0].Senders)
	require.Equal(t, []any{201, 202}, w.Channels[1].Buffer)
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 2, Case: -1, Value: 203}}, w.Channels[1].Senders)
	require.Equal(t, []scheduler.WaiterState{{Tasklet: 4, Case: 0}}, w.Channels[2].Receivers)

	rec2 := rec.clone()
	restored, err := scheduler.Restore(copyWorld(w, rec2))
	require.NoError(t, err)
	assert.Equal(t, w, restored.World(), "a restored world reads back the same")

	errOrig := finish(t, orig, paused)
	errRestored := finish(t, restored, paused)
	require.NoError(t, errOrig)
	require.NoError(t, errRestored)
	assert.Equal(t, rec.Log, rec2.Log, "same events in the same order")
	assert.Equal(t, rec, rec2)
	assert.Equal(t, orig.Now(), restored.Now())
	assert.Equal(t, orig.Steps(), restored.Steps())
	assert.ElementsMatch(t, []int{101, 102, 201, 202, 203, 204, 301, 302}, rec.Received)
	assert.Zero(t, restored.Len())
}

func TestRestoreRejectsInconsistentWorlds(t *testing.T) {
	s, rec, _ := snapshotWorld(t)
	w := s.World()
	tests := []struct {
		name   string
		mutate func(w *scheduler.World)
	}{
		{"runnable tasklet missing from the run queue", func(w *scheduler.World) { w.RunQueue = w.RunQueue[1:] }},
		{"tasklet queued twice", func(w *scheduler.World) { w.RunQueue = append(w.RunQueue, w.RunQueue[0]) }},
		{"blocked tasklet in the run queue", func(w *scheduler.World) { w.RunQueue = append(w.RunQueue, 1) }},
		{"waiter naming an unknown tasklet", func(w *scheduler.World) { w.Channels[0].Senders[0].Tasklet = 999 }},
		{"waiter naming a runnable tasklet", func(w *scheduler.World) { w.Channels[0].Senders[0].Tasklet = w.RunQueue[0] }},
		{"waiter with a case the tasklet lacks", func(w *scheduler.World) { w.Channels[2].Receivers[0].Case = 5 }},
		{"receiver without a tasklet", func(w *scheduler.World) { w.Channels[2].Receivers[0].Tasklet = 0 }},
		{"duplicate tasklet ID", func(w *scheduler.World) { w.Tasklets = append(w.Tasklets, w.Tasklets[0]) }},
		{"zero tasklet ID", func(w *scheduler.World) { w.Tasklets[0].ID = 0 }},
		{"duplicate channel ID", func(w *scheduler.World) { w.Channels = append(w.Channels, w.Channels[0]) }},
		{"tasklet without behavior", func(w *scheduler.World) { w.Tasklets[0].Behavior = nil }},
		{"dead tasklet", func(w *scheduler.World) { w.Tasklets[0].State = tasklet.Dead }},
		{"buffer over capacity", func(w *scheduler.World) { w.Channels[1].Buffer = append(w.Channels[1].Buffer, 1) }},
		{"timer for an unknown tasklet", func(w *scheduler.World) { w.Timers[0].Tasklet = 999 }},
		{"timer for a runnable tasklet", func(w *scheduler.World) { w.Timers[0].Tasklet = w.RunQueue[0] }},
		{"timer for a case the tasklet lacks", func(w *scheduler.World) { w.Timers[1].Case = 7 }},
		{"sleep's timer for a blocked tasklet", func(w *scheduler.World) { w.Timers[blockedTimer(w)].Case = -1 }},
		{"select's timer for a sleeping tasklet", func(w *scheduler.World) { w.Timers[1-blockedTimer(w)].Case = 0 }},
		{"select with a timeout without its timer", func(w *scheduler.World) { w.Timers = slices.Delete(w.Timers, blockedTimer(w), blockedTimer(w)+1) }},
		{"sleeping tasklet without a timer", func(w *scheduler.World) { w.Timers = slices.Delete(w.Timers, 1-blockedTimer(w), 2-blockedTimer(w)) }},
		// A counter behind the IDs in use would hand a live tasklet's or
		// channel's ID to the next Spawn or NewChannel, replacing it.
		{"tasklet numbered past NextTasklet", func(w *scheduler.World) { w.NextTasklet = 1 }},
		{"channel numbered past NextChannel", func(w *scheduler.World) { w.NextChannel = 0 }},
		{"case of no direction", func(w *scheduler.World) {
			cs := w.Tasklets[blockedSelect(w)].Cases
			cs[slices.IndexFunc(cs, func(c tasklet.Case) bool { return c.Dir == tasklet.DirTimeout })].Dir = 9
		}},
		{"plain wait of two cases", func(w *scheduler.World) {
			ts := &w.Tasklets[plainWait(w)]
			ts.Cases = append(ts.Cases, tasklet.TimeoutCase(time.Second))
		}},
		{"wait on a channel never made", func(w *scheduler.World) {
			ts := &w.Tasklets[blockedSelect(w)]
			ts.Cases = append(ts.Cases, tasklet.RecvCase(tasklet.ChanID(w.NextChannel+1)))
		}},
		{"blocked tasklet holding a delivered error", func(w *scheduler.World) { w.Tasklets[plainWait(w)].Err = tasklet.ErrKilled }},
		// Waiters beside what they wait for would sleep on.
		{"sender waiting while the buffer has room", func(w *scheduler.World) { w.Channels[1].Buffer = w.Channels[1].Buffer[:1] }},
		{"receiver waiting beside a buffered value", func(w *scheduler.World) { w.Channels[2].Cap, w.Channels[2].Buffer = 1, []any{7} }},
		{"closed channel with a waiting sender", func(w *scheduler.World) { w.Channels[0].Closed = true }},
		{"wait of a runnable tasklet", func(w *scheduler.World) {
			i := slices.IndexFunc(w.Tasklets, func(ts scheduler.TaskletState) bool { return ts.ID == w.RunQueue[0] })
			w.Tasklets[i].Cases, w.Tasklets[i].Plain = []tasklet.Case{tasklet.RecvCase(1)}, true
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := copyWorld(w, rec.clone())
			tc.mutate(bad)
			_, err := scheduler.Restore(bad)
			require.Error(t, err)
			assert.ErrorIs(t, err, scheduler.ErrInvalidRestore)
		})
	}
	_, err := scheduler.Restore(copyWorld(w, rec.clone()))
	assert.NoError(t, err, "the unmodified world restores")
}

func TestRestoreMovesVirtualClock(t *testing.T) {
	s := scheduler.New()
	s.Spawn(&prog{Code: []instr{{Kind: iSleep, D: 3 * time.Second}, {Kind: iYield}}, Rec: &record{}})
	require.NoError(t, s.Tick())
	s.Clock().(*scheduler.VirtualClock).Advance(time.Second)
	w := s.World()
	require.Equal(t, time.Second, w.Clock)

	r, err := scheduler.Restore(copyWorld(w, &record{}))
	require.NoError(t, err)
	assert.Equal(t, time.Second, r.Now(), "a default clock starts at the world's time")

	vc := scheduler.NewVirtualClock(0)
	r, err = scheduler.Restore(copyWorld(w, &record{}), scheduler.WithClock(vc))
	require.NoError(t, err)
	assert.Equal(t, time.Second, vc.Now(), "a given virtual clock is moved to the world's time")
	require.NoError(t, r.Run(t.Context()))
	assert.Equal(t, 3*time.Second, vc.Now())
}

// blockedSelect and plainWait find a tasklet of w blocked in a select and
// one blocked in a plain Send or Recv.
func blockedSelect(w *scheduler.World) int {
	return slices.IndexFunc(w.Tasklets, func(ts scheduler.TaskletState) bool { return ts.State == tasklet.Blocked && !ts.Plain })
}

func plainWait(w *scheduler.World) int {
	return slices.IndexFunc(w.Tasklets, func(ts scheduler.TaskletState) bool { return ts.State == tasklet.Blocked && ts.Plain })
}

// blockedTimer is the index of the select's timer among w's two timers.
func blockedTimer(w *scheduler.World) int {
	if w.Timers[0].Case >= 0 {
		return 0
	}
	return 1
}
