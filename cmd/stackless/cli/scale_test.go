package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/observe"
)

// scaleWorkers and scaleTasklets are the size the issue asks the cluster
// page to stay live at; under the race detector (make test) the tasklets
// are a fifth, which the bounds below do not depend on, and the figures in
// the README come from a plain `go test -run TestClusterPageAt100kTasklets`.
const scaleWorkers = 4

var scaleTasklets = map[bool]int{false: 100_000, true: 20_000}[raceBuild]

// TestClusterPageAt100kTasklets runs the observer of a 4-worker cluster
// holding 100,000 tasklets (20,000 under -race) and checks that what a page loads does not grow
// with the tasklets: the overview and each live event carry the workers,
// checkpoints and events but no tasklet rows; the tasklets table is paged
// and filtered on the server. Times are logged, not asserted (the machine
// is shared); README "Watching it live" quotes them.
func TestClusterPageAt100kTasklets(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level: starts a cluster of worker processes (make test runs it; make test-short skips it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Setenv(envCLIMain, "1") // the workers are this test binary
	d, err := os.MkdirTemp("", "stscale")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	url, done := serve(t, ctx, "cluster", "up", "--data", d, "-n", "4", "--checkpoint-every", "0", "--balance-every", "0",
		"--http", "127.0.0.1:0")
	at := []string{"--cluster", d}
	home := base(url)

	t0 := time.Now()
	out := runOK(t, append([]string{"cluster", "spawn", "collector", "--count", strconv.Itoa(scaleTasklets), "--arg", "in=@chan"}, at...)...)
	require.Contains(t, out, strconv.Itoa(scaleTasklets)+" tasklet(s) of kind collector spawned")
	t.Logf("spawn of %d tasklets on %d workers (one checkpoint included): %v", scaleTasklets, scaleWorkers, time.Since(t0).Round(time.Millisecond))

	// The reads behind the pages: the overview (every refresh) reads
	// status, the workers' counts; the tasklets table reads a page, which
	// the workers filter and cut. ps reads every tasklet, a page at a time.
	c, err := cluster.Dial(ctx, cluster.DialConfig{Dir: d})
	require.NoError(t, err)
	defer c.Close()
	src := observe.NewClusterSource(c)
	timeReads := func(what string, read func() int) {
		var reads []time.Duration
		for range 3 {
			t0 := time.Now()
			require.Equal(t, scaleTasklets, read(), what)
			reads = append(reads, time.Since(t0))
		}
		slices.Sort(reads)
		t.Logf("%s: median %v, min %v, max %v", what, reads[1].Round(time.Millisecond), reads[0].Round(time.Millisecond),
			reads[2].Round(time.Millisecond))
	}
	timeReads("overview (status of 4 workers)", func() int {
		ov, err := src.Overview(ctx)
		require.NoError(t, err)
		return ov.Total
	})
	timeReads("a page of 50 (list)", func() int {
		l, err := c.List(ctx, cluster.ListQuery{Limit: 50})
		require.NoError(t, err)
		require.Len(t, l.Tasklets, 50)
		return l.Total
	})
	timeReads(fmt.Sprintf("ps of %d tasklets", scaleTasklets), func() int {
		ps, err := c.PS(ctx)
		require.NoError(t, err)
		return len(ps)
	})

	timed := func(path string) (int, []byte, time.Duration) {
		t0 := time.Now()
		code, body := httpGet(t, home+path)
		return code, body, time.Since(t0)
	}
	const (
		maxOverview = 64 << 10 // bytes: workers, 200 checkpoints and 200 events at most
		maxPage     = 16 << 10 // bytes: 50 rows
	)
	code, body, took := timed("/api/overview")
	require.Equal(t, http.StatusOK, code, string(body))
	t.Logf("/api/overview: %d bytes in %v", len(body), took.Round(time.Millisecond))
	assert.Less(t, len(body), maxOverview, "the overview carries no tasklet rows")
	var ov observe.Overview
	require.NoError(t, json.Unmarshal(body, &ov))
	assert.Equal(t, scaleTasklets, ov.Total)
	assert.Len(t, ov.Nodes, scaleWorkers)

	for _, tc := range []struct {
		path        string
		rows, match int
	}{
		{"/api/tasklets", 50, scaleTasklets},
		{"/api/tasklets?offset=" + strconv.Itoa(scaleTasklets-50), 50, scaleTasklets},
		{"/api/tasklets?node=3&state=blocked", 50, scaleTasklets / scaleWorkers},
		{"/api/tasklets?q=receiving&limit=500", 500, scaleTasklets},
		{"/api/tasklets?q=nothing-matches", 0, 0},
	} {
		code, body, took := timed(tc.path)
		require.Equal(t, http.StatusOK, code, string(body))
		var p observe.TaskletPage
		require.NoError(t, json.Unmarshal(body, &p))
		t.Logf("%s: %d rows of %d matched, %d bytes in %v", tc.path, len(p.Rows), p.Matched, len(body), took.Round(time.Millisecond))
		assert.Len(t, p.Rows, tc.rows, tc.path)
		assert.Equal(t, tc.match, p.Matched, tc.path)
		assert.Equal(t, scaleTasklets, p.Total, tc.path)
		assert.Less(t, len(body), maxPage*max(1, tc.rows/50), "%s: a page's size follows its rows, not the tasklets", tc.path)
	}

	// The live stream: one overview per refresh, each as small as the
	// overview.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, home+"/api/events", nil)
	require.NoError(t, err)
	t0 = time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	var sizes []int
	for len(sizes) < 3 && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			sizes = append(sizes, len(data))
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, sizes, 3)
	t.Logf("/api/events: 3 overviews of %v bytes in %v (one per refresh)", sizes, time.Since(t0).Round(time.Millisecond))
	for _, n := range sizes {
		assert.Less(t, n, maxOverview, "a live event carries no tasklet rows")
	}

	code, body, took = timed("/metrics")
	require.Equal(t, http.StatusOK, code)
	t.Logf("/metrics: %d bytes in %v", len(body), took.Round(time.Millisecond))
	assert.Less(t, len(body), 32<<10, "metrics are per node, not per tasklet")

	runOK(t, append([]string{"cluster", "down"}, at...)...)
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-ctx.Done():
		t.Fatal("cluster up did not end after down")
	}
}
