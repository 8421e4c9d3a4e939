package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/readmetest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The tour prints what the README says it prints.
func Example() {
	main()
	// Output:
	// guard sees orc
	// guard sees troll
	// guard saw 2 intruders
}

// The same two functions, unlowered (each on a goroutine of its own, no
// generator involved), print the same.
func Example_unlowered() {
	s := scheduler.New()
	eyes := s.NewChannel(0)
	s.Spawn(tasklet.Goroutine(func(t *tasklet.Flow) error { return Guard(t, eyes) }))
	s.Spawn(tasklet.Goroutine(func(t *tasklet.Flow) error { return Intruders(t, eyes, []string{"orc", "troll"}) }))
	if err := s.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// guard sees orc
	// guard sees troll
	// guard saw 2 intruders
}

// Saved with pickle and restored into a new scheduler after every tick,
// the lowered tour still prints the same: between two steps the guard and
// the intruders are plain data.
func Example_restoredAfterEveryTick() {
	s := scheduler.New()
	eyes := s.NewChannel(0)
	s.Spawn(NewGuard(eyes))
	s.Spawn(NewIntruders(eyes, []string{"orc", "troll"}))
	for ticks := 0; s.Len() > 0 && ticks < 100; ticks++ {
		if err := s.Tick(); err != nil {
			fmt.Println(err)
			return
		}
		b, err := pickle.Default.DumpWorld(s.World())
		if err != nil {
			fmt.Println(err)
			return
		}
		w, err := pickle.Default.LoadWorld(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		if s, err = scheduler.Restore(w); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("tasklets left:", s.Len())
	// Output:
	// guard sees orc
	// guard sees troll
	// guard saw 2 intruders
	// tasklets left: 0
}

// TestReadmeTourIsThisProgram keeps the README's "Five-minute tour" the
// code that runs here: its first block is tour.go, its second the
// hand-written Guard of byhand/main.go.
func TestReadmeTourIsThisProgram(t *testing.T) {
	blocks := readmetest.GoBlocks(t, "../../README.md", "Five-minute tour")
	require.Len(t, blocks, 2, "the tour shows the flows, then the hand-written guard")
	assert.Equal(t, readmetest.MustRead(t, "tour.go"), blocks[0], "README tour block 1 differs from examples/tour/tour.go")
	readmetest.AssertPartOf(t, "byhand/main.go", blocks[1])
}
