package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/readmetest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// Run twice on one file: the second run is told that the first finished.
func Example_saveWorld() {
	dir, err := os.MkdirTemp("", "stackless-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data", "world.db")
	for range 2 {
		if err := saveWorld(context.Background(), path); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// fresh start
	// guard: sightings at gates [0 1 2]
	// stored generation 1
	// the stored run had finished: starting over
	// guard: sightings at gates [0 1 2]
	// stored generation 3
}

// A run stopped after any number of steps and checkpointed is resumed by
// saveWorld and ends as the unbroken run does: the lookout and the guard
// come back at the point they were waiting at, with their locals.
func TestSaveWorldResumesAfterEveryStep(t *testing.T) {
	require.NoError(t, pickle.RegisterValue[Sighting](pickle.Default, "saving.sighting"))
	setup := func(s *scheduler.Scheduler) error {
		eyes := s.NewChannel(0)
		s.Spawn(NewGuard(eyes))
		s.Spawn(NewLookout(eyes, 3))
		return nil
	}
	whole := scheduler.New()
	require.NoError(t, setup(whole))
	require.NoError(t, captureStdout(t, func() error { return whole.Run(context.Background()) }).err)
	steps := int(whole.Steps())
	require.Greater(t, steps, 4, "the run has steps to stop after")

	for k := 1; k < steps; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "world.db")
			db, err := store.Open(path)
			require.NoError(t, err)
			ck := store.NewCheckpointer(db, pickle.Default)
			s, err := ck.Resume(setup)
			require.NoError(t, err)
			_, err = s.RunBudget(context.Background(), k, scheduler.Total|scheduler.Soft)
			require.NoError(t, err)
			require.NotZero(t, s.Len(), "stopped after %d of %d steps", k, steps)
			require.NoError(t, ck.Checkpoint(s))
			require.NoError(t, ck.Close())
			require.NoError(t, db.Close())

			got := captureStdout(t, func() error { return saveWorld(context.Background(), path) })
			require.NoError(t, got.err)
			assert.Equal(t, "resuming generation 1\nguard: sightings at gates [0 1 2]\nstored generation 2\n", got.out)
		})
	}
}

type captured struct {
	out string
	err error
}

// captureStdout runs fn with os.Stdout going to a pipe and returns what it
// printed.
func captureStdout(t *testing.T, fn func() error) captured {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := fn()
	os.Stdout = old
	require.NoError(t, w.Close())
	out := <-done
	require.NoError(t, r.Close())
	return captured{out: out, err: ferr}
}

// TestReadmeSavingIsThisProgram keeps the README's "Saving a running world"
// the code that runs here: the flows of watch.go, then saveWorld.
func TestReadmeSavingIsThisProgram(t *testing.T) {
	blocks := readmetest.GoBlocks(t, "../../README.md", "Saving a running world")
	require.GreaterOrEqual(t, len(blocks), 2, "the section shows the flows, then saveWorld")
	assert.True(t, strings.HasPrefix(blocks[0], "// Sighting"), "block 1 starts with the value type:\n%s", blocks[0])
	readmetest.AssertPartOf(t, "watch.go", blocks[0])
	assert.True(t, strings.HasPrefix(blocks[1], "func saveWorld("), "block 2 is saveWorld:\n%s", blocks[1])
	readmetest.AssertPartOf(t, "main.go", blocks[1])
}
