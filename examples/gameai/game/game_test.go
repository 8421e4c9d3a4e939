package game

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// small is a small, crowded world: fights start within seconds.
var small = Config{Entities: 300, Seed: 42, Spacing: 1500}

func registry(t *testing.T) *pickle.Registry {
	t.Helper()
	reg, err := NewRegistry()
	require.NoError(t, err)
	return reg
}

func newGame(t *testing.T, c Config) *Game {
	t.Helper()
	g, err := New(c)
	require.NoError(t, err)
	return g
}

func fingerprint(t *testing.T, g *Game, reg *pickle.Registry) uint64 {
	t.Helper()
	fp, err := g.Fingerprint(reg)
	require.NoError(t, err)
	return fp
}

// fingerprints plays g up to tick `until` and returns the fingerprint of
// every tick from the current one on, indexed by tick.
func fingerprints(t *testing.T, g *Game, reg *pickle.Registry, until int64) map[int64]uint64 {
	t.Helper()
	out := map[int64]uint64{g.Now(): fingerprint(t, g, reg)}
	for g.Now() < until {
		require.NoError(t, g.Tick())
		out[g.Now()] = fingerprint(t, g, reg)
	}
	return out
}

func TestSameSeedPlaysTheSameGame(t *testing.T) {
	reg := registry(t)
	a, b := newGame(t, small), newGame(t, small)
	for range 150 {
		require.Equal(t, fingerprint(t, a, reg), fingerprint(t, b, reg), "tick %d", a.Now())
		require.NoError(t, a.Tick())
		require.NoError(t, b.Tick())
	}
	assert.Equal(t, fingerprint(t, a, reg), fingerprint(t, b, reg))
	assert.Equal(t, a.Stats(), b.Stats())

	other := small
	other.Seed++
	c := newGame(t, other)
	assert.NotEqual(t, fingerprint(t, a, reg), fingerprint(t, newGame(t, small), reg), "the fingerprint sees play")
	assert.NotEqual(t, fingerprint(t, newGame(t, small), reg), fingerprint(t, c, reg), "another seed, another world")
}

// TestLoadPlaysOnExactly saves a game at tick T (after autosaves every 10
// ticks, so the newest save is an incremental one on top of a chain),
// loads it into a new scheduler, and checks that every later tick has the
// state of the unbroken run.
func TestLoadPlaysOnExactly(t *testing.T) {
	const until = 160
	reg := registry(t)
	want := fingerprints(t, newGame(t, small), reg, until)
	loads := []int64{0, 1, 37, 100}
	if testing.Short() {
		loads = []int64{0, 37} // make test checks all four
	}
	for _, T := range loads {
		t.Run(fmt.Sprint("load at ", T), func(t *testing.T) {
			t.Parallel() // each has its own save and game
			loadPlaysOnExactly(t, reg, want, T, until)
		})
	}
}

// loadPlaysOnExactly saves a game at tick T, loads it, and checks every
// tick up to until against want, the unbroken run.
func loadPlaysOnExactly(t *testing.T, reg *pickle.Registry, want map[int64]uint64, T, until int64) {
	path := filepath.Join(t.TempDir(), "save.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	ck := store.NewCheckpointer(db, reg)
	clock := scheduler.NewVirtualClock(0)
	s, err := ck.Resume(func(s *scheduler.Scheduler) error { return Setup(s, small) }, scheduler.WithClock(clock))
	require.NoError(t, err)
	g, err := Attach(s, clock)
	require.NoError(t, err)
	for g.Now() < T {
		require.NoError(t, g.Tick())
		if g.Now()%10 == 0 && g.Now() != T {
			require.NoError(t, ck.Checkpoint(s))
		}
	}
	require.NoError(t, ck.Checkpoint(s))
	require.NoError(t, db.Close())

	db, err = store.Open(path)
	require.NoError(t, err)
	clock = scheduler.NewVirtualClock(0)
	s, err = store.Restore(db, reg, 0, scheduler.WithClock(clock))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	loaded, err := Attach(s, clock)
	require.NoError(t, err)
	require.Equal(t, T, loaded.Now(), "the save holds tick %d", T)

	got := fingerprints(t, loaded, reg, until)
	for tick := T; tick <= until; tick++ {
		if !assert.Equal(t, want[tick], got[tick], "saved at %d, loaded: tick %d differs from the unbroken run", T, tick) {
			break
		}
	}
}

// TestBattle checks that the game is a game: in a crowded world guards
// chase and fight, the wounded flee, monsters die and are replaced, and no
// entity is lost or counted twice on the way.
func TestBattle(t *testing.T) {
	g := newGame(t, small)
	seen := map[string]bool{}
	for range 300 {
		require.NoError(t, g.Tick())
		st := g.Stats()
		total := int32(0)
		for s, n := range st.Guards {
			total += n
			seen["guard "+s] = seen["guard "+s] || n > 0
		}
		for s, n := range st.Monsters {
			total += n
			seen["monster "+s] = seen["monster "+s] || n > 0
		}
		require.Equal(t, int32(small.Entities), total, "tick %d: %+v", st.Tick, st)
		require.GreaterOrEqual(t, st.Kills, st.Spawned, "tick %d: more replacements than deaths", st.Tick)
	}
	for _, s := range []string{"guard patrol", "guard chase", "guard fight", "guard flee",
		"monster wander", "monster fight", "monster flee", "monster dead"} {
		assert.True(t, seen[s], "no %s in 300 ticks", s)
	}
	st := g.Stats()
	assert.Positive(t, st.Kills, "monsters die")
	assert.Positive(t, st.Spawned, "dead monsters are replaced after %v", respawnDelay)
	assert.Equal(t, st.Kills, st.Spawned+int64(st.Monsters["dead"]), "every kill is replaced or waiting")
}

// TestEntitiesAgreeWithTheWorld checks the world's view of every entity
// (state, leg, inbox), brought up to date with the reports still waiting in
// the world's channel, against the entity's own fields.
//
// It plays the hand-written machines, whose fields are the entity's state
// at hand; the scripts keep theirs in the frame they wait in, and
// TestScriptsPlayTheHandWrittenGame checks that they play the same game.
func TestEntitiesAgreeWithTheWorld(t *testing.T) {
	hand := small
	hand.HandWritten = true
	g := newGame(t, hand)
	for range 120 {
		require.NoError(t, g.Tick())
	}
	w := g.World()
	states, legs := slices.Clone(w.States), slices.Clone(w.Legs)
	pending := g.Sched.Channel(w.Reports).Buffer()
	require.NotEmpty(t, pending, "entities that stepped after the world have reported")
	for _, v := range pending {
		switch r := v.(type) {
		case Move:
			states[r.Slot], legs[r.Slot] = r.State, r.Leg
		case Died:
			states[r.Slot] = Dead
		}
	}
	alive := 0
	for _, in := range g.Sched.Tasklets() {
		var slot int32
		var state State
		var leg Leg
		var inbox channel.ID
		switch e := g.Sched.Behavior(in.ID).(type) {
		case *GuardMachine:
			slot, state, leg, inbox = e.Slot, e.State, e.Leg, e.Inbox
			assert.Equal(t, GuardKind, w.Kinds[slot], "slot %d", slot)
		case *MonsterMachine:
			slot, state, leg, inbox = e.Slot, e.State, e.Leg, e.Inbox
			assert.Equal(t, MonsterKind, w.Kinds[slot], "slot %d", slot)
		default:
			continue
		}
		alive++
		assert.Equal(t, states[slot], state, "slot %d", slot)
		assert.Equal(t, legs[slot], leg, "slot %d", slot)
		assert.Equal(t, w.Inboxes[slot], inbox, "slot %d", slot)
	}
	dead := 0
	for _, s := range states {
		if s == Dead {
			dead++
		}
	}
	assert.Positive(t, dead)
	assert.Equal(t, small.Entities, alive+dead, "every living entity has a tasklet")
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{
		{Entities: 1},
		{Entities: MaxEntities + 1},
		{Dt: -1},
		{Dt: 2e9},
		{Spacing: 10},
	} {
		assert.Error(t, c.Check(), "%+v", c)
		_, err := New(c)
		assert.Error(t, err, "%+v", c)
	}
	assert.NoError(t, Config{}.Check(), "the defaults are valid")
}

func TestAttachNeedsAGame(t *testing.T) {
	clock := scheduler.NewVirtualClock(0)
	_, err := Attach(scheduler.New(scheduler.WithClock(clock)), clock)
	assert.ErrorContains(t, err, "no world tasklet")
	g := newGame(t, small)
	_, err = Attach(g.Sched, scheduler.NewVirtualClock(0))
	assert.ErrorContains(t, err, "virtual clock")
}

func TestWorldRefusesBadReports(t *testing.T) {
	for _, bad := range []any{"junk", Move{Slot: 1 << 20}, Died{Slot: -1}} {
		g := newGame(t, small)
		require.NoError(t, g.Tick())
		ok, err := g.Sched.TrySend(g.World().Reports, bad)
		require.True(t, ok)
		require.NoError(t, err)
		err = g.Tick()
		assert.ErrorContains(t, err, "gameai: tick 2: ", "%v", bad)
		assert.ErrorContains(t, err, "world, tick 2", "%v", bad)
	}
}

// TestEntitiesSleepUntilTheirLegEnds: an entity with nothing to react to
// sleeps on the scheduler's timers until its leg ends (a select of its
// inbox and a timeout), instead of waiting for a notice from the world: a
// waiting entity whose leg is not over has a timer at the leg's end.
func TestEntitiesSleepUntilTheirLegEnds(t *testing.T) {
	hand := small
	hand.HandWritten = true
	g := newGame(t, hand)
	for range 120 {
		require.NoError(t, g.Tick())
	}
	wakeAt := map[tasklet.ID]time.Duration{}
	for _, tm := range g.Sched.WorldHeader().Timers {
		_, dup := wakeAt[tm.Tasklet]
		require.False(t, dup, "tasklet %v has one timer", tm.Tasklet)
		wakeAt[tm.Tasklet] = tm.At
	}
	now, checked := g.Sched.Now(), 0
	for _, in := range g.Sched.Tasklets() {
		var leg Leg
		switch e := g.Sched.Behavior(in.ID).(type) {
		case *GuardMachine:
			leg = e.Leg
		case *MonsterMachine:
			leg = e.Leg
		default:
			continue
		}
		if in.State != tasklet.Blocked || leg.End <= now {
			continue
		}
		assert.Equal(t, "selecting", in.Op, "%v waits for a message or the end of its leg", in.ID)
		if assert.Contains(t, wakeAt, in.ID, "%v sleeps on a timer", in.ID) {
			assert.Equal(t, leg.End, wakeAt[in.ID], "%v wakes when its leg ends", in.ID)
		}
		checked++
	}
	assert.Greater(t, checked, small.Entities/2, "most entities are asleep mid-leg")
}
