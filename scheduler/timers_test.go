package scheduler_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The timer wheel's conformance, seen from tasklets: deadlines on every
// level of the wheel, ties, far-future sleeps, kills, checkpoints and a
// clock moved by hand.

// wheelDurations spread over every level of the wheel, with ties.
var wheelDurations = []time.Duration{
	3 * time.Microsecond, 70 * time.Microsecond, 70 * time.Microsecond, 5 * time.Millisecond,
	300 * time.Millisecond, time.Second, time.Second, 20 * time.Second, 25 * time.Minute,
	30 * time.Hour, 60 * 24 * time.Hour, 10 * 365 * 24 * time.Hour,
}

// A sleep so long that now+d overflows waits forever: it must not wrap to
// a deadline in the past and fire at once.
func TestSleepForeverDoesNotFire(t *testing.T) {
	s := scheduler.New()
	s.Clock().(*scheduler.VirtualClock).Set(time.Hour)
	var l logger
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(math.MaxInt64) },
		func(t *tasklet.T) tasklet.Op { l.add("forever@%v", t.Now()); return t.Exit() }))
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.TimeoutCase(math.MaxInt64)) },
		func(t *tasklet.T) tasklet.Op { l.add("select@%v", t.Now()); return t.Exit() }))
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Second) },
		func(t *tasklet.T) tasklet.Op { l.add("second@%v", t.Now()); return t.Exit() }))
	require.NoError(t, s.Tick()) // every one sets its timer
	s.Clock().(*scheduler.VirtualClock).Advance(time.Second)
	require.NoError(t, s.Tick())
	assert.Equal(t, []string{"second@1h0m1s"}, l.entries, "only the one-second sleeper woke")
	assert.Equal(t, 2, s.Len(), "the two that wait forever are still asleep")
	info, err := s.Info(1)
	require.NoError(t, err)
	assert.Equal(t, time.Duration(math.MaxInt64), info.WakeAt, "the deadline is the end of time")
}

// Sleepers on every level wake in deadline order, ties in the order their
// sleeps were set, and Run jumps the clock to each deadline.
func TestSleepOrderAcrossWheelLevels(t *testing.T) {
	s := scheduler.New()
	var l logger
	want := make([]time.Duration, 0, len(wheelDurations))
	for i, d := range wheelDurations {
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) },
			func(t *tasklet.T) tasklet.Op { l.add("%d@%v", i, t.Now()); return t.Exit() }))
		want = append(want, d)
	}
	require.NoError(t, s.Run(t.Context()))
	var got []string
	for i, d := range wheelDurations { // already sorted, ties in spawn order
		got = append(got, fmt.Sprintf("%d@%v", i, d))
	}
	assert.Equal(t, got, l.entries)
	assert.Equal(t, want[len(want)-1], s.Now())
}

// Killing sleepers leaves stale timers on every level; they never fire, and
// the others keep their order.
func TestKillSleepersOnEveryLevel(t *testing.T) {
	s := scheduler.New()
	var l logger
	var ids []tasklet.ID
	for i, d := range wheelDurations {
		ids = append(ids, s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) },
			func(t *tasklet.T) tasklet.Op {
				if t.Err() == nil {
					l.add("%d", i)
				}
				return t.Exit()
			})))
	}
	require.NoError(t, s.Tick())
	for i, id := range ids {
		if i%2 == 1 {
			require.NoError(t, s.Kill(id, false))
		}
	}
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []string{"0", "2", "4", "6", "8", "10"}, l.entries)
	assert.Equal(t, wheelDurations[10], s.Now(), "the clock stopped at the last live deadline")
}

// A manual clock that jumps (a game loop's frames, a paused game resumed
// much later) fires, in one Tick, every timer that fell due, in deadline
// order, and none early.
func TestTickFiresTimersAcrossClockJumps(t *testing.T) {
	s := scheduler.New()
	vc := s.Clock().(*scheduler.VirtualClock)
	var l logger
	for i, d := range wheelDurations {
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(d) },
			func(t *tasklet.T) tasklet.Op { l.add("%d", i); return t.Exit() }))
	}
	require.NoError(t, s.Tick())
	jumps := []struct {
		to   time.Duration
		want []string
	}{
		{69 * time.Microsecond, []string{"0"}},
		{70 * time.Microsecond, []string{"1", "2"}},
		{999 * time.Millisecond, []string{"3", "4"}},
		{50 * 24 * time.Hour, []string{"5", "6", "7", "8", "9"}},
		{60 * 24 * time.Hour, []string{"10"}},
		{10*365*24*time.Hour - 1, nil},
		{100 * 365 * 24 * time.Hour, []string{"11"}},
	}
	for _, j := range jumps {
		l.entries = nil
		vc.Set(j.to)
		require.NoError(t, s.Tick())
		assert.Equal(t, j.want, l.entries, "clock at %v", j.to)
	}
	assert.Zero(t, s.Len())
}

// A checkpoint taken while timers wait on every level (some fired, some
// stale) restores to a world that wakes the same tasklets at the same
// times as the original.
func TestTimersSurviveCheckpoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s := scheduler.New()
	orig := &record{}
	var ids []tasklet.ID
	for range 200 {
		d := wheelDurations[rng.IntN(len(wheelDurations))] + time.Duration(rng.IntN(3))
		ids = append(ids, s.Spawn(&prog{Code: []instr{{Kind: iSleep, D: d}, {Kind: iSleep, D: d / 2}}, Rec: orig}))
	}
	require.NoError(t, s.Tick())
	for _, id := range ids[:20] {
		require.NoError(t, s.Kill(id, false))
	}
	s.Clock().(*scheduler.VirtualClock).Set(2 * time.Second)
	require.NoError(t, s.Tick())

	w := s.World()
	require.NotEmpty(t, w.Timers)
	restored := orig.clone()
	r, err := scheduler.Restore(copyWorld(w, restored))
	require.NoError(t, err)
	assert.Equal(t, w.Timers, r.World().Timers, "the restored world holds the same timers")

	require.NoError(t, s.Run(t.Context()))
	require.NoError(t, r.Run(t.Context()))
	assert.Equal(t, orig.Log, restored.Log, "the same wake-ups at the same times")
	assert.Equal(t, s.Now(), r.Now())
}

// wakeLog is what TestManySleepersWakeInDeadlineOrder's sleepers write.
type wakeLog struct {
	id tasklet.ID
	at time.Duration
}

// Thousands of sleepers sleeping again and again, as a game's entities do,
// wake exactly in the order of one queue of all their deadlines, ties in
// the order the sleeps were set: the order Run's clock jumps give whether a
// timer fires alone from the window, ties with others, was set into the
// window after it was sorted, or ends a window.
func TestManySleepersWakeInDeadlineOrder(t *testing.T) {
	const sleepers, wakes = 2000, 40_000
	// Durations: short ones that land in the window being fired, long ones
	// on higher levels, a few fixed values that make ties, and enough
	// sleepers a millisecond that windows are sorted by bucket and prefetch.
	dur := func(rng *rand.Rand) time.Duration {
		switch rng.IntN(8) {
		case 0:
			return time.Duration(1 + rng.IntN(20_000)) // within the window
		case 1, 2:
			return []time.Duration{time.Millisecond, 3 * time.Millisecond, 50 * time.Millisecond}[rng.IntN(3)]
		case 3:
			return time.Duration(1 + rng.Int64N(int64(2*time.Second)))
		}
		return time.Duration(1 + rng.Int64N(int64(100*time.Millisecond)))
	}
	s := scheduler.New()
	var log []wakeLog
	for i := range sleepers {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
			if t.Steps() > 1 {
				log = append(log, wakeLog{t.ID(), t.Now()})
			}
			if len(log) >= wakes {
				return t.Exit()
			}
			return t.Sleep(dur(rng))
		}))
	}
	require.NoError(t, s.Run(context.Background()))

	// The reference: one sorted queue of (deadline, sequence), fed with the
	// same durations in the same order.
	type pending struct {
		at  time.Duration
		seq int
		id  tasklet.ID
		rng *rand.Rand
	}
	var q []pending
	seq := 0
	for i := range sleepers {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		seq++
		q = append(q, pending{dur(rng), seq, tasklet.ID(i + 1), rng})
	}
	var want []wakeLog
	for len(want) < wakes {
		i := 0
		for j := range q {
			if q[j].at < q[i].at || q[j].at == q[i].at && q[j].seq < q[i].seq {
				i = j
			}
		}
		p := q[i]
		want = append(want, wakeLog{p.id, p.at})
		seq++
		q[i] = pending{p.at + dur(p.rng), seq, p.id, p.rng}
	}
	require.GreaterOrEqual(t, len(log), wakes) // the last wakes, then each exits
	for i := range want {
		require.Equal(t, want[i], log[i], "wake %d", i)
	}
}
