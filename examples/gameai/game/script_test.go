package game

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// worldView is everything the world knows, saved or not, as comparable
// values: its exported fields (but which kind of entities it spawns) and the
// reports waiting in its channel.
func worldView(t *testing.T, g *Game) map[string]any {
	t.Helper()
	out := map[string]any{"reports": g.Sched.Channel(g.World().Reports).Buffer()}
	v := reflect.ValueOf(g.World()).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && f.Name != "HandWritten" {
			out[f.Name] = v.Field(i).Interface()
		}
	}
	return out
}

// TestScriptsPlayTheHandWrittenGame plays the same game with the scripts
// (Guard, Monster) and with the hand-written state machines (GuardMachine,
// MonsterMachine): the scripts are the machines rewritten as straight-line
// code, so the world must see the same moves, blows, deaths and births at
// every tick, and draw the same picture.
func TestScriptsPlayTheHandWrittenGame(t *testing.T) {
	hand := small
	hand.HandWritten = true
	scripts, machines := newGame(t, small), newGame(t, hand)
	kinds := map[string]bool{}
	for _, in := range scripts.Sched.Tasklets() {
		kinds[reflect.TypeOf(scripts.Sched.Behavior(in.ID)).String()] = true
	}
	require.Equal(t, map[string]bool{"*game.World": true, "*game.GuardTasklet": true, "*game.MonsterTasklet": true}, kinds,
		"a new game plays the scripts")
	for range 400 {
		require.NoError(t, scripts.Tick())
		require.NoError(t, machines.Tick())
		if !assert.Equal(t, worldView(t, machines), worldView(t, scripts), "tick %d", scripts.Now()) {
			break
		}
	}
	st := scripts.Stats()
	assert.Equal(t, machines.Stats(), st)
	assert.Positive(t, st.Kills, "the games had deaths to compare")
	assert.Positive(t, st.Spawned, "and births")
	assert.Positive(t, st.Guards["flee"]+st.Monsters["flee"]+st.Monsters["fight"], "and fights")
	assert.Equal(t, machines.Render(128).Pix, scripts.Render(128).Pix, "the same picture")
}

// TestScriptsFailWithWhoTheyAre checks the scripts' error path: an error
// thrown into a waiting guard or monster comes out of its wait and ends the
// tasklet, wrapped with who it was.
func TestScriptsFailWithWhoTheyAre(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    tasklet.Behavior
	}{
		{"guard", newGuard(false, 0, 0, 0, 10_000, Point{5000, 5000}, 1)},
		{"monster", newMonster(false, 1, 0, 0, 10_000, Point{5000, 5000}, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failed error
			s := scheduler.New(scheduler.WithErrorHandler(func(err error) { failed = err }))
			world, inbox := s.NewChannel(4), s.NewChannel(inboxCap)
			var id tasklet.ID
			switch b := tc.b.(type) {
			case *GuardTasklet:
				b.G.Inbox, b.G.World = inbox, world
				id = s.Spawn(b)
			case *MonsterTasklet:
				b.M.Inbox, b.M.World = inbox, world
				id = s.Spawn(b)
			}
			require.NoError(t, s.Tick())
			mv, ok, err := s.TryRecv(world)
			require.NoError(t, err)
			require.True(t, ok, "the first step reports the first leg")
			assert.IsType(t, Move{}, mv)
			require.NoError(t, s.Throw(id, channel.ErrClosed, false))
			require.NoError(t, s.Tick())
			require.Error(t, failed, "the thrown error ends the tasklet")
			assert.ErrorIs(t, failed, channel.ErrClosed)
			assert.ErrorContains(t, failed, tc.name+" ")
		})
	}
}

// TestOldSavesAreRefused: before the scripts, the kinds gameai.world,
// gameai.guard and gameai.monster were version 1 and the guards and
// monsters were the state machines; at version 2 the world sent every
// entity a notice when its leg ended, where now the entity sleeps on the
// scheduler's timers. The repo ships no such save; the scripts' frames
// cannot be made from a machine's fields without guessing where in the
// script it was, and an entity of version 2 saved waiting for a notice
// would wait forever. So loading either fails and names every kind and both
// versions, rather than resuming with wrong state.
func TestOldSavesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		version        uint32
		guard, monster tasklet.Behavior
		hand           bool
	}{
		{1, &GuardMachine{}, &MonsterMachine{}, true},
		{2, &GuardTasklet{}, &MonsterTasklet{}, false},
	} {
		t.Run(fmt.Sprintf("version %d", tc.version), func(t *testing.T) {
			old := pickle.NewRegistry()
			require.NoError(t, old.Register("gameai.world", tc.version, &World{}))
			require.NoError(t, old.Register("gameai.guard", tc.version, tc.guard))
			require.NoError(t, old.Register("gameai.monster", tc.version, tc.monster))
			for _, err := range []error{
				pickle.RegisterValue[Move](old, "gameai.Move"),
				pickle.RegisterValue[Died](old, "gameai.Died"),
				pickle.RegisterValue[Arrived](old, "gameai.Arrived"),
				pickle.RegisterValue[Seen](old, "gameai.Seen"),
				pickle.RegisterValue[Attack](old, "gameai.Attack"),
			} {
				require.NoError(t, err)
			}
			c := small
			c.HandWritten = tc.hand
			g := newGame(t, c)
			for range 20 {
				require.NoError(t, g.Tick())
			}
			db, err := store.Open(filepath.Join(t.TempDir(), "old.db"))
			require.NoError(t, err)
			defer db.Close()
			require.NoError(t, store.NewCheckpointer(db, old).Checkpoint(g.Sched))

			_, err = store.Restore(db, registry(t), 0)
			require.Error(t, err)
			assert.ErrorIs(t, err, pickle.ErrKindVersion)
			for _, kind := range []string{"gameai.world", "gameai.guard", "gameai.monster"} {
				assert.ErrorContains(t, err, fmt.Sprintf("kind %q was saved at version %d but this program has version 3", kind, tc.version))
			}
		})
	}
}
