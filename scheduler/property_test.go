package scheduler_test

// Property test: random worlds of tasklets and channels, generated from a
// seed, must run deterministically and must never lose or duplicate a value.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type runMode uint8

const (
	modeRun       runMode = iota // Run to the end
	modeWatchdog                 // autoschedule loop: RunBudget(n, Timeslice) + Insert
	modeSoftTotal                // RunBudget(n, Soft|Total) until everything finished or deadlocked
	modeTick                     // Tick, advancing the clock when only sleepers are left
	numModes
)

func (m runMode) String() string {
	return [...]string{"run", "watchdog", "soft-total", "tick"}[m]
}

type chanSpec struct {
	Cap         int
	Pref        int
	ScheduleAll bool
}

// world is a generated program: plain data, built into a fresh scheduler
// as often as needed.
type world struct {
	Chans    []chanSpec
	Tasklets [][]instr
	Mode     runMode
	Budget   int
}

func (w *world) String() string {
	s := fmt.Sprintf("mode %v budget %d, channels %+v\n", w.Mode, w.Budget, w.Chans)
	var dump func(indent string, code []instr)
	dump = func(indent string, code []instr) {
		for _, in := range code {
			s += indent + in.String() + "\n"
			if in.Kind == iSpawn {
				dump(indent+"    ", in.Child)
			}
		}
	}
	for i, code := range w.Tasklets {
		s += fmt.Sprintf("tasklet %d:\n", i)
		dump("  ", code)
	}
	return s
}

func generate(seed uint64) *world {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	w := &world{Mode: runMode(r.IntN(int(numModes))), Budget: 1 + r.IntN(8)}
	nCh := 1 + r.IntN(4)
	for range nCh {
		w.Chans = append(w.Chans, chanSpec{
			Cap:         []int{0, 0, 1, 2}[r.IntN(4)],
			Pref:        r.IntN(3) - 1,
			ScheduleAll: r.IntN(6) == 0,
		})
	}
	nextVal := 0
	val := func() int { nextVal++; return nextVal }
	ch := func() channel.ID { return channel.ID(1 + r.IntN(nCh)) } // IDs are handed out from 1
	var gen func(depth int) []instr
	gen = func(depth int) []instr {
		n := 1 + r.IntN(10)
		code := make([]instr, 0, n)
		for range n {
			switch k := r.IntN(100); {
			case k < 27:
				code = append(code, instr{Kind: iSend, Ch: ch(), Val: val()})
			case k < 54:
				code = append(code, instr{Kind: iRecv, Ch: ch()})
			case k < 68:
				var cases []tasklet.Case
				for range 1 + r.IntN(3) {
					if r.IntN(2) == 0 {
						cases = append(cases, tasklet.RecvCase(ch()))
					} else {
						cases = append(cases, tasklet.SendCase(ch(), val()))
					}
				}
				if r.IntN(5) == 0 {
					cases = slices.Insert(cases, r.IntN(len(cases)+1),
						tasklet.TimeoutCase(time.Duration(1+r.IntN(5))*time.Second))
				}
				if r.IntN(10) == 0 {
					cases = slices.Insert(cases, r.IntN(len(cases)+1), tasklet.DefaultCase())
				}
				code = append(code, instr{Kind: iSelect, Cases: cases})
			case k < 78:
				code = append(code, instr{Kind: iYield})
			case k < 86:
				code = append(code, instr{Kind: iSleep, D: time.Duration(1+r.IntN(5)) * time.Second})
			case k < 93 && depth < 2:
				code = append(code, instr{Kind: iSpawn, Child: gen(depth + 1)})
			case k < 95:
				code = append(code, instr{Kind: iClose, Ch: ch()})
			default:
				code = append(code, instr{Kind: iBusy})
			}
		}
		return code
	}
	for range 2 + r.IntN(5) {
		w.Tasklets = append(w.Tasklets, gen(0))
	}
	if r.IntN(5) < 3 {
		// A closer wakes whoever is still blocked long after the rest is
		// done, so that many worlds end cleanly instead of deadlocking.
		closer := []instr{{Kind: iSleep, D: 100 * time.Second}}
		for i := range nCh {
			closer = append(closer, instr{Kind: iClose, Ch: channel.ID(i + 1)})
		}
		w.Tasklets = append(w.Tasklets, closer)
	}
	return w
}

func (w *world) build(t *testing.T) (*scheduler.Scheduler, *record) {
	s := scheduler.New()
	rec := &record{}
	for i, cs := range w.Chans {
		id := s.NewChannel(cs.Cap)
		require.Equal(t, channel.ID(i+1), id)
		s.Channel(id).SetPreference(cs.Pref)
		s.Channel(id).SetScheduleAll(cs.ScheduleAll)
	}
	for _, code := range w.Tasklets {
		s.Spawn(&prog{Code: code, Rec: rec})
	}
	return s, rec
}

// outcome is everything a run's result is compared by.
type outcome struct {
	Rec   *record
	End   string // the error, or the tasklets left
	Clock time.Duration
	Steps uint64
}

func (w *world) run(t *testing.T, ctx context.Context, s *scheduler.Scheduler, rec *record) outcome {
	var err error
	switch w.Mode {
	case modeRun:
		err = s.Run(ctx)
	case modeWatchdog:
		for {
			var id tasklet.ID
			id, err = s.RunBudget(ctx, w.Budget, scheduler.Timeslice)
			if err != nil || id == 0 {
				break
			}
			require.NoError(t, s.Insert(id))
		}
	case modeSoftTotal:
		for {
			var id tasklet.ID
			id, err = s.RunBudget(ctx, w.Budget, scheduler.Soft|scheduler.Total)
			require.Zero(t, id, "soft mode returns no victim")
			if err != nil || s.Len() == 0 {
				break
			}
		}
	case modeTick:
		for i := 0; ; i++ {
			require.Less(t, i, 100_000, "tick loop does not end")
			require.NoError(t, s.Tick())
			if s.RunCount() > 0 {
				continue
			}
			sleeping := slices.ContainsFunc(s.Tasklets(), func(in scheduler.Info) bool {
				return in.State == tasklet.Sleeping
			})
			if !sleeping {
				break
			}
			s.Clock().(*scheduler.VirtualClock).Advance(time.Second)
		}
	}
	o := outcome{Rec: rec, Clock: s.Now(), Steps: s.Steps(), End: "ok"}
	if err != nil {
		o.End = err.Error()
	}
	if w.Mode == modeTick {
		o.End = fmt.Sprintf("%v", s.Tasklets())
	} else if err == nil {
		require.Zero(t, s.Len(), "Run ended without error: every tasklet finished")
	}
	return o
}

func checkValues(t *testing.T, s *scheduler.Scheduler, rec *record, deadlocked bool) {
	t.Helper()
	count := map[int]int{}
	for _, v := range rec.Received {
		count[v]++
		require.Equal(t, 1, count[v], "value %d received twice", v)
	}
	sent := map[int]bool{}
	for _, v := range rec.Sent {
		require.False(t, sent[v], "value %d sent twice", v)
		sent[v] = true
	}
	for _, v := range rec.Rejected {
		require.False(t, sent[v], "value %d both sent and rejected", v)
		require.Zero(t, count[v], "rejected value %d was received", v)
	}
	// A successful send put the value in a receiver or a buffer: the sent
	// values are exactly the received ones plus the ones still buffered.
	buffered := map[int]bool{}
	waiting := map[int]bool{}
	for _, cs := range s.World().Channels {
		for _, v := range cs.Buffer {
			buffered[v.(int)] = true
			require.Zero(t, count[v.(int)], "buffered value %d was also received", v)
		}
		for _, ws := range cs.Senders {
			waiting[ws.Value.(int)] = true
			require.Zero(t, count[ws.Value.(int)], "value %d of a blocked sender was received", ws.Value)
		}
	}
	for v := range count {
		require.True(t, sent[v], "received value %d was never sent", v)
	}
	for v := range sent {
		require.True(t, count[v] == 1 || buffered[v], "sent value %d was lost", v)
	}
	if !deadlocked {
		require.Empty(t, waiting, "no sender waits at a clean end")
	}
}

func TestPropertyRandomWorlds(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 30
	}
	modes := map[runMode]int{}
	deadlocks, closes := 0, 0
	for seed := range uint64(seeds) {
		w := generate(seed)
		modes[w.Mode]++
		ok := t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			s1, r1 := w.build(t)
			o1 := w.run(t, t.Context(), s1, r1)
			s2, r2 := w.build(t)
			o2 := w.run(t, t.Context(), s2, r2)
			require.Equal(t, o1, o2, "two runs of the same world differ")
			require.Positive(t, o1.Steps)

			deadlocked := o1.End != "ok"
			if w.Mode == modeTick {
				deadlocked = slices.ContainsFunc(s1.Tasklets(), func(in scheduler.Info) bool {
					return in.State == tasklet.Blocked
				})
			} else if deadlocked {
				require.Contains(t, o1.End, "deadlock", "the only failure a generated world can have")
			}
			if deadlocked {
				deadlocks++
			}
			if len(r1.Rejected) > 0 {
				closes++
			}
			checkValues(t, s1, r1, deadlocked)

			if w.Mode == modeRun {
				checkRestoreMidway(t, w, o1)
			}
		})
		if !ok {
			t.Logf("failing world (seed %d):\n%v", seed, w)
			return
		}
	}
	// The generator must exercise both endings and every mode.
	assert.Positive(t, deadlocks)
	assert.Less(t, deadlocks, seeds)
	assert.Len(t, modes, int(numModes))
	t.Logf("%d seeds: %d deadlocked, %d saw a rejected send, modes %v", seeds, deadlocks, closes, modes)
}

// checkRestoreMidway stops a run at a switch after a few steps (soft
// budget, so nothing is reordered), restores a copy of the world into a new
// scheduler and runs that to the end: the result must be the uninterrupted
// run's.
func checkRestoreMidway(t *testing.T, w *world, want outcome) {
	for _, n := range []int{1, 5, 17} {
		s, rec := w.build(t)
		_, err := s.RunBudget(t.Context(), n, scheduler.Soft|scheduler.Total)
		world := s.World()
		rec2 := rec.clone()
		r, rerr := scheduler.Restore(copyWorld(world, rec2))
		require.NoError(t, rerr)
		if err == nil {
			err = r.Run(t.Context())
		}
		got := outcome{Rec: rec2, Clock: r.Now(), Steps: r.Steps(), End: "ok"}
		if err != nil {
			got.End = err.Error()
		}
		require.Equal(t, want, got, "restored after %d steps", n)
	}
}
