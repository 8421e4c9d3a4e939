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
	"github.com/stackless-go/stackless/scheduler"
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
			var out bytes.Buffer
			ping, pong := game.Setup(s, n, &out)
			require.NoError(t, s.Run(context.Background()))

			assert.Equal(t, want(n), out.String())
			assert.Equal(t, n, ping.Hits)
			assert.Equal(t, n, pong.Hits)
			assert.Equal(t, 2*n, ping.Ball)
			assert.Zero(t, s.Len(), "both tasklets should have exited")
		})
	}
}

func TestGameThreeRallies(t *testing.T) {
	s := scheduler.New()
	var out bytes.Buffer
	game.Setup(s, 3, &out)
	require.NoError(t, s.Run(context.Background()))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2*3+1)
	for i, line := range lines[:6] {
		player := [2]string{"ping", "pong"}[i%2]
		assert.Equal(t, fmt.Sprintf("%s %d", player, i/2+1), line, "line %d", i)
	}
	assert.Equal(t, "game over: 3 rallies, 6 hits (ping 3, pong 3)", lines[6])
	assert.Equal(t, want(3), out.String())
}

func TestNegativeRalliesPlaysNone(t *testing.T) {
	s := scheduler.New()
	var out bytes.Buffer
	game.Setup(s, -5, &out)
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, want(0), out.String())
}

// The game is a deterministic schedule: stepping it frame by frame with Tick
// prints the same transcript as Run.
func TestTickGivesTheSameGame(t *testing.T) {
	s := scheduler.New()
	var out bytes.Buffer
	game.Setup(s, 3, &out)
	for i := 0; s.Len() > 0; i++ {
		require.Less(t, i, 100, "game did not end")
		require.NoError(t, s.Tick())
	}
	assert.Equal(t, want(3), out.String())
}

// Without an output writer (a restored tasklet) the game still plays.
func TestNoOutput(t *testing.T) {
	s := scheduler.New()
	ping, pong := game.Setup(s, 2, nil)
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, 2, ping.Hits)
	assert.Equal(t, 2, pong.Hits)
}

func Example() {
	s := scheduler.New()
	game.Setup(s, 3, os.Stdout)
	if err := s.Run(context.Background()); err != nil {
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
