package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	blocks := readmeGoBlocks(t, "../../README.md", "Five-minute tour")
	require.Len(t, blocks, 2, "the tour shows the flows, then the hand-written guard")
	assert.Equal(t, mustRead(t, "tour.go"), blocks[0], "README tour block 1 differs from examples/tour/tour.go")
	assertPartOf(t, "byhand/main.go", blocks[1])
}

// assertPartOf checks that block is a run of whole lines of the file at
// path that ends a declaration.
func assertPartOf(t *testing.T, path, block string) {
	t.Helper()
	assert.True(t, strings.HasSuffix(block, "\n}\n"), "README block should end a declaration:\n%s", block)
	assert.Contains(t, "\n"+mustRead(t, path), "\n"+block, "README block differs from %s", path)
}

// readmeGoBlocks returns the ```go blocks of the README section whose
// heading is heading, without their fences.
func readmeGoBlocks(t *testing.T, path, heading string) []string {
	t.Helper()
	src := mustRead(t, path)
	start := strings.Index(src, "\n## "+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "%s has no section %q", path, heading)
	section := src[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var blocks []string
	for {
		i := strings.Index(section, "\n```go\n")
		if i < 0 {
			return blocks
		}
		section = section[i+len("\n```go\n"):]
		j := strings.Index(section, "\n```\n")
		require.GreaterOrEqual(t, j, 0, "%s: a go block of %q does not end", path, heading)
		blocks = append(blocks, section[:j+1])
		section = section[j:]
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
