package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/examples/longtask/task"
)

// The kill -9 test of the fetches: its size and how many kills.
const (
	fetchDocs    = 5000
	fetchSteps   = "300"
	fetchKills   = 20
	fetchWorkers = 4
)

// TestKillNineFetchesOnce fetches the corpus from a document server that
// this test process runs (so its counts survive the children), kills the
// program with SIGKILL at 20 random moments, restarts it until it
// finishes, and checks that the result equals an unbroken run's. With the
// journal, the only requests the server sees twice are calls in flight at
// a kill, issued again with their idempotency key (at most one per worker
// per kill); without it, every fetch made since the last checkpoint is
// made again. The figures are logged.
func TestKillNineFetchesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: kills and restarts the program with SIGKILL (make test runs it; make test-short skips it)")
	}
	ctx := processContext(t)
	var want, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"--docs", fmt.Sprint(fetchDocs), "--data", t.TempDir()}, &want, &errOut), errOut.String())
	require.True(t, strings.HasPrefix(want.String(), "result: "), want.String())

	repeats := map[bool]int{}
	for _, journal := range []bool{true, false} {
		t.Run(fmt.Sprint("journal=", journal), func(t *testing.T) {
			srv, err := task.StartDocServer()
			require.NoError(t, err)
			defer srv.Close()
			args := []string{"--docs", fmt.Sprint(fetchDocs), "--workers", fmt.Sprint(fetchWorkers), "--data", t.TempDir(),
				"--checkpoint-every", "1h", "--checkpoint-steps", fetchSteps, "--server", srv.URL, fmt.Sprintf("--journal=%v", journal)}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
			kills, result := 0, ""
			for attempt := 0; result == "" && attempt < 4*fetchKills; attempt++ {
				c := startChild(t, ctx, args...)
				lines := make(chan string)
				go func() {
					defer close(lines)
					for c.lines.Scan() {
						lines <- c.lines.Text()
					}
				}()
				// A random moment: after the child resumed or after its
				// first checkpoint, then 0 to 60 ms more, whatever it is
				// doing then (fetching, journaling, checkpointing). At most
				// two checkpoint intervals of progress per child, so twenty
				// kills fit in the run whatever the machine's speed.
				var killAt <-chan time.Time
				killed := false
				waitCkpts := rng.IntN(2)
				for line := range lines {
					if killAt == nil && kills < fetchKills &&
						(strings.HasPrefix(line, "resume ") && waitCkpts == 0 || strings.HasPrefix(line, "checkpoint ") && waitCkpts == 1) {
						killAt = time.After(time.Duration(rng.IntN(60)) * time.Millisecond)
						go func(at <-chan time.Time) {
							select {
							case <-at:
								_ = c.cmd.Process.Kill()
							case <-ctx.Done():
							}
						}(killAt)
					}
					if strings.HasPrefix(line, "result: ") {
						result = line
					}
				}
				err := c.cmd.Wait()
				var exit *exec.ExitError
				if killAt != nil && err != nil {
					require.ErrorAs(t, err, &exit, c.stderr.String())
					ws, ok := exit.Sys().(syscall.WaitStatus)
					require.True(t, ok)
					require.Equal(t, syscall.SIGKILL, ws.Signal(), "the child died of the kill, not of its own error: %s", c.stderr.String())
					killed = true
					kills++
				}
				if !killed {
					require.NoError(t, err, c.stderr.String())
				}
			}
			require.Equal(t, fetchKills, kills)
			assert.Equal(t, strings.TrimSpace(want.String()), result, "the resumed run must end like the unbroken one")
			docs, twice, rep, sameKey := srv.Served()
			assert.Equal(t, fetchDocs, docs, "every document was fetched")
			assert.Equal(t, rep, sameKey, "every repeated request was a call issued again with its own key")
			repeats[journal] = rep
			t.Logf("journal=%v: %d kills; %d documents requested more than once, %d repeated requests", journal, kills, twice, rep)
			if journal {
				assert.LessOrEqual(t, rep, fetchKills*fetchWorkers, "with the journal, only calls in flight at a kill are repeated")
			}
		})
	}
	assert.Less(t, repeats[true], repeats[false], "the journal saves the fetches made since the last checkpoint")
}
