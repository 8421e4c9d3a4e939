package store_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// The long task of the kill -9 test: big enough for 20 kills, small enough
// for CI.
const (
	killItems  = 8000
	killMixers = 4
	killRounds = 400
	killBudget = 150 // steps between checkpoints
)

// TestKillNineChild is the child process of TestKillNineResumes. It resumes
// the long task from the store named by STACKLESS_KILL_DB, checkpoints every
// killBudget steps (printing "gen N"), and prints "result R" at the end.
func TestKillNineChild(t *testing.T) {
	path := os.Getenv("STACKLESS_KILL_DB")
	if path == "" {
		return // only runs as a child
	}
	db, err := store.Open(path, store.WithTimeout(10*time.Second), store.WithKeep(3))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	reg := testworld.Registry()
	ck := store.NewCheckpointer(db, reg, store.WithFullEvery(4))
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		testworld.Pipeline(s, killItems, killMixers, killRounds)
		return nil
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Println("resumed", ck.Resumed())
	for s.Len() > 0 {
		if _, err := s.RunBudget(context.Background(), killBudget, scheduler.Total|scheduler.Soft); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		if err := ck.Checkpoint(s); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("gen", ck.Last())
	}
	fmt.Println("result", testworld.Result(s, resultChannel))
	os.Exit(0)
}

// resultChannel is the third channel Pipeline makes on node 0.
const resultChannel = 3

// TestKillNineResumes kills a checkpointing child with SIGKILL at 20
// random moments, checks after each kill that the newest checkpoint loads
// (never corrupt), restarts the child, and checks the final result equals an
// uninterrupted run.
func TestKillNineResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 21 processes")
	}
	ref := scheduler.New()
	res := testworld.Pipeline(ref, killItems, killMixers, killRounds)
	require.EqualValues(t, resultChannel, res)
	require.NoError(t, ref.Run(context.Background()))
	want := testworld.Result(ref, res)
	require.NotEmpty(t, want)

	path := filepath.Join(t.TempDir(), "long.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	reg := testworld.Registry()
	var result string
	kills, lastGen := 0, uint64(0)
	for attempt := 0; result == "" && attempt < 40; attempt++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STACKLESS_KILL_DB="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		killAfter := -1
		if kills < 20 {
			killAfter = 1 + rng.IntN(4) // checkpoints to let through before the kill
		}
		seen := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			require.False(t, strings.HasPrefix(line, "error"), "child: %s", line)
			if r, ok := strings.CutPrefix(line, "result "); ok {
				result = r
			}
			var g uint64
			if _, err := fmt.Sscanf(line, "gen %d", &g); err == nil {
				require.Greater(t, g, lastGen, "generations must grow across restarts")
				lastGen = g
				seen++
				if seen == killAfter {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					kills++
					break
				}
			}
		}
		cmd.Wait()
		// Whatever the moment of the kill, the newest checkpoint must load.
		db, err := store.Open(path, store.WithTimeout(10*time.Second))
		require.NoError(t, err)
		_, gen, err := store.LoadWorld(db, reg, 0)
		require.NoError(t, err, "after kill %d", kills)
		assert.GreaterOrEqual(t, gen, lastGen, "a checkpoint the child reported is missing")
		require.NoError(t, db.Close())
	}
	assert.Equal(t, 20, kills)
	assert.Equal(t, want, result, "the resumed run must end like the uninterrupted one")
}
