package game_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// want is the transcript the rules give for n rallies: Ping serves, Pong
// returns, strictly alternating, then Ping ends the game with the totals.
func want(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "ping %d\n", i)
		fmt.Fprintf(&b, "pong %d\n", i)
	}
	fmt.Fprintf(&b, "game over: %d rallies, %d hits (ping %d, pong %d)\n", n, 2*n, n, n)
	return b.String()
}

func TestGame(t *testing.T) {
	for _, n := range []int{0, 1, 3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := scheduler.New()
			table := game.Setup(s, n)
			var out bytes.Buffer
			score, err := game.Play(context.Background(), s, table, &out)
			require.NoError(t, err)

			assert.Equal(t, want(n), out.String())
			assert.Equal(t, game.Score{Rallies: n, Ping: n, Pong: n}, score)
			assert.Zero(t, s.Len(), "both tasklets should have exited")
		})
	}
}

func TestNegativeRalliesPlaysNone(t *testing.T) {
	s := scheduler.New()
	table := game.Setup(s, -5)
	var out bytes.Buffer
	score, err := game.Play(context.Background(), s, table, &out)
	require.NoError(t, err)
	assert.Equal(t, want(0), out.String())
	assert.Equal(t, game.Score{}, score)
}

// The players never wait for the host: Run plays the whole game into the
// log, and Play prints it afterwards.
func TestRunThenPlayPrintsTheLog(t *testing.T) {
	s := scheduler.New()
	table := game.Setup(s, 3)
	require.NoError(t, s.Run(context.Background()))
	require.Zero(t, s.Len(), "Run played the game to its end")
	var out bytes.Buffer
	_, err := game.Play(context.Background(), s, table, &out)
	require.NoError(t, err)
	assert.Equal(t, want(3), out.String())
}

// The game is a deterministic schedule: stepping it frame by frame with
// Tick gives the same transcript as Play, in the same number of steps, and
// two runs make the same channel operations in the same order.
func TestGameIsDeterministic(t *testing.T) {
	play := func(tick bool) (transcript string, steps uint64, events []string) {
		s := scheduler.New(scheduler.WithChannelHook(func(e scheduler.ChannelEvent) {
			events = append(events, fmt.Sprint(e))
		}))
		table := game.Setup(s, 3)
		for i := 0; tick && s.Len() > 0; i++ {
			require.Less(t, i, 100, "game did not end")
			require.NoError(t, s.Tick())
		}
		var out bytes.Buffer
		_, err := game.Play(context.Background(), s, table, &out)
		require.NoError(t, err)
		return out.String(), s.Steps(), events
	}
	out1, steps1, events1 := play(false)
	out2, steps2, events2 := play(false)
	assert.Equal(t, want(3), out1)
	assert.Equal(t, out1, out2)
	assert.Equal(t, steps1, steps2)
	assert.Equal(t, events1, events2)
	require.NotEmpty(t, events1)

	ticked, tickSteps, _ := play(true)
	assert.Equal(t, want(3), ticked)
	assert.Equal(t, steps1, tickSteps)
}

// A game saved after any step (pickle.Default knows its kinds and the
// Score) and restored into a new scheduler plays on to the same transcript
// and score, in the same number of steps as the unbroken game: what was
// logged before the save is in the log's buffer, in the snapshot.
func TestGameSavedAfterEveryStep(t *testing.T) {
	const n = 4
	whole := scheduler.New()
	game.Setup(whole, n)
	require.NoError(t, whole.Run(context.Background()))
	steps := int(whole.Steps())
	require.Greater(t, steps, 4*n, "a rally takes steps")

	midGame := 0
	for k := 1; k < steps; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			s := scheduler.New()
			table := game.Setup(s, n)
			_, err := s.RunBudget(context.Background(), k, scheduler.Total|scheduler.Soft)
			require.NoError(t, err)
			if s.Len() > 0 { // else saved over, with the log not printed yet
				midGame++
			}

			b, err := pickle.Default.DumpWorld(s.World())
			require.NoError(t, err)
			w, err := pickle.Default.LoadWorld(b)
			require.NoError(t, err)
			restored, err := scheduler.Restore(w)
			require.NoError(t, err)

			var out bytes.Buffer
			score, err := game.Play(context.Background(), restored, table, &out)
			require.NoError(t, err)
			assert.Equal(t, want(n), out.String())
			assert.Equal(t, game.Score{Rallies: n, Ping: n, Pong: n}, score)
			assert.Equal(t, uint64(steps), restored.Steps(), "steps of the saved game, before and after the save")
		})
	}
	assert.Greater(t, midGame, steps/2, "most saves were taken mid-game")
}

// Ping and Pong run unlowered too (each on a goroutine of its own, no
// generator involved), with the same game.
func TestUnloweredPlaysTheSameGame(t *testing.T) {
	s := scheduler.New()
	table := game.Table{ToPong: s.NewChannel(0), ToPing: s.NewChannel(0), Log: s.NewChannel(7)}
	s.Spawn(tasklet.Goroutine(func(t *tasklet.Flow) error { return game.Ping(t, table, 3) }))
	s.Spawn(tasklet.Goroutine(func(t *tasklet.Flow) error { return game.Pong(t, table) }))
	var out bytes.Buffer
	score, err := game.Play(context.Background(), s, table, &out)
	require.NoError(t, err)
	assert.Equal(t, want(3), out.String())
	assert.Equal(t, game.Score{Rallies: 3, Ping: 3, Pong: 3}, score)
}

// A log entry that is neither a hit nor the score is reported, naming it.
func TestPlayRefusesAStrangeLog(t *testing.T) {
	s := scheduler.New()
	table := game.Table{Log: s.NewChannel(1)}
	s.PostLocal(table.Log, 3.5)
	_, err := game.Play(context.Background(), s, table, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a float64 (3.5)")
}

func Example() {
	s := scheduler.New()
	table := game.Setup(s, 3)
	if _, err := game.Play(context.Background(), s, table, os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ping 1
	// pong 1
	// ping 2
	// pong 2
	// ping 3
	// pong 3
	// game over: 3 rallies, 6 hits (ping 3, pong 3)
}
