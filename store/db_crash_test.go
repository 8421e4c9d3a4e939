package store

// Crash atomicity: a child process saves generations forever and is killed
// with SIGKILL at a random point; the database must always reopen with the
// newest reported generation (or the one being committed) intact.

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const crashRecords = 2000

func crashContent(gen uint64) []Record {
	recs := make([]Record, crashRecords)
	for i := range recs {
		recs[i] = Record{
			Key:   fmt.Appendf(nil, "t/%05d", i),
			Value: fmt.Appendf(nil, "gen=%d rec=%d %s", gen, i, strings.Repeat("x", int((gen*7+uint64(i))%97))),
		}
	}
	return recs
}

// TestCrashChild is the child half of TestCrashAtomicity; it only runs when re-executed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("STORE_CRASH_CHILD")
	if path == "" {
		t.Skip("helper process for TestCrashAtomicity")
	}
	db, err := Open(path, WithKeep(3), WithTimeout(5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	next := uint64(1)
	if g, err := db.Latest(); err == nil {
		next = g + 1
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		gen, err := db.Save(&Checkpoint{Meta: fmt.Appendf(nil, "meta %d", next), Records: crashContent(next)})
		if err != nil || gen != next {
			fmt.Fprintln(os.Stderr, "save:", gen, err)
			os.Exit(3)
		}
		fmt.Fprintln(out, gen)
		_ = out.Flush()
		next++
	}
}

func TestCrashAtomicity(t *testing.T) {
	if testing.Short() {
		t.Skip("re-execs the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Now()

	// At least 5 kills; more while the budget allows (the whole test stays
	// well under 10 s, also with -race).
	var last uint64 // newest generation any child reported as committed
	unreported := 0 // kills that landed after a commit, before the child reported it
	defer func() { t.Logf("%d kills landed between a commit and its report", unreported) }()
	for kill := 0; kill < 5 || (kill < 15 && time.Since(start) < 3*time.Second); kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STORE_CRASH_CHILD="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		// Kill after a random number of committed generations (1..8), read
		// from the pipe: the child is then somewhere inside the next Save.
		wantLines := 1 + rng.IntN(8)
		sc := bufio.NewScanner(stdout)
		for n := 0; n < wantLines && sc.Scan(); n++ {
			g, err := strconv.ParseUint(sc.Text(), 10, 64)
			require.NoError(t, err, "child printed %q", sc.Text())
			last = g
		}
		// Sub-generation jitter so the kill also lands inside bbolt's commit
		// (page writes, fsyncs, meta page), not only at the start of a Save.
		// This randomizes where the child dies; nothing waits on it.
		for spin, until := time.Now(), time.Duration(rng.IntN(4000))*time.Microsecond; time.Since(spin) < until; {
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		// Drain what the child reported before it died.
		for sc.Scan() {
			if g, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
				last = g
			}
		}
		_ = cmd.Wait()
		require.NotZero(t, last, "child reported no generation; stderr: %s", stderr.String())

		db, err := Open(path, WithTimeout(5*time.Second))
		require.NoError(t, err)
		latest, err := db.Latest()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, latest, last, "a reported (committed) generation was lost")
		assert.LessOrEqual(t, latest, last+1)
		infos, err := db.List()
		require.NoError(t, err)
		for _, in := range infos {
			cp, err := db.Load(in.Gen)
			require.NoError(t, err, "generation %d after kill %d", in.Gen, kill)
			require.Equal(t, fmt.Sprint("meta ", in.Gen), string(cp.Meta))
			require.Equal(t, crashContent(in.Gen), cp.Records, "generation %d content", in.Gen)
		}
		require.NoError(t, db.Close())
		t.Logf("kill %d: after %d reported generations; latest %d, last reported %d", kill, wantLines, latest, last)
		if latest > last {
			unreported++
		}
		last = latest // the child may have committed one more than it reported
	}
}
