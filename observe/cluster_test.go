package observe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/tasklet"
)

// fakeCluster answers like a coordinator whose status the test moves.
type fakeCluster struct {
	mu     sync.Mutex
	st     cluster.Status
	ps     []cluster.TaskletView
	reads  []cluster.ListQuery // the List calls
	thrown []string            // "id: message" of each throw
}

func (f *fakeCluster) Status(context.Context) (cluster.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

// List filters by kind and cuts as a coordinator does; the other filters
// are the cluster's to test.
func (f *fakeCluster) List(_ context.Context, q cluster.ListQuery) (cluster.TaskletList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, q)
	l := cluster.TaskletList{Total: len(f.ps), Tasklets: []cluster.TaskletView{}}
	for _, v := range f.ps {
		if q.Kind != "" && v.Kind != q.Kind || v.ID <= q.After {
			continue
		}
		if l.Matched >= q.Offset && len(l.Tasklets) < q.Limit {
			l.Tasklets = append(l.Tasklets, v)
		}
		l.Matched++
	}
	return l, nil
}
func (f *fakeCluster) Inspect(_ context.Context, id tasklet.ID) (cluster.TaskletView, error) {
	for _, v := range f.ps {
		if v.ID == id {
			return v, nil
		}
	}
	return cluster.TaskletView{}, cluster.ErrNoTasklet
}
func (f *fakeCluster) Kill(_ context.Context, id tasklet.ID) (cluster.KillResult, error) {
	return cluster.KillResult{ID: id, Worker: 1}, nil
}
func (f *fakeCluster) Throw(_ context.Context, id tasklet.ID, msg string) (cluster.ThrowResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thrown = append(f.thrown, fmt.Sprintf("%v: %s", id, msg))
	return cluster.ThrowResult{ID: id, Worker: 1}, nil
}
func (f *fakeCluster) Migrate(_ context.Context, id tasklet.ID, to uint16) (cluster.MigrateResult, error) {
	return cluster.MigrateResult{ID: id, From: 1, To: to}, nil
}

func TestClusterSourceTurnsStatusIntoEventsAndMetrics(t *testing.T) {
	f := &fakeCluster{st: cluster.Status{Dir: "d", State: "running", LastGen: 3, LastAt: time.Unix(100, 0),
		Workers: []cluster.WorkerStats{{Node: 1, Tasklets: 2, RunnableNow: 1, Blocked: 1, Steps: 40, HeapBytes: 1 << 20,
			Switches: 30, ChannelOps: 22, Timers: 3, FramesIn: 5, FramesOut: 6, BytesIn: 500, BytesOut: 600}, {Node: 2, Steps: 7}}},
		ps: []cluster.TaskletView{{ID: 5, Kind: "k", Worker: 1, State: "runnable"}, {ID: 6, Kind: "k", Worker: 1, State: "blocked", Op: "receiving"}}}
	srv := startServer(t, observe.Config{Source: observe.NewClusterSource(f), Refresh: time.Millisecond})
	var ov observe.Overview
	_, body := get(t, srv, "/api/overview", false)
	require.NoError(t, json.Unmarshal([]byte(body), &ov))
	require.Len(t, ov.Nodes, 2)
	assert.Equal(t, 1, ov.Nodes[0].Blocked)
	assert.Equal(t, "running", ov.State)
	require.Len(t, ov.Ckpts, 1)
	assert.Equal(t, uint64(3), ov.Ckpts[0].Gen)

	f.mu.Lock()
	f.st.LastGen, f.st.Migrations, f.st.Rollbacks = 4, 2, 1
	f.st.Checkpoints, f.st.LastBytes, f.st.LastDuration = 5, 4096, 250*time.Millisecond
	f.mu.Unlock()
	require.Eventually(t, func() bool { // the cache lives half a refresh
		_, body = get(t, srv, "/api/overview", false)
		ov = observe.Overview{}
		require.NoError(t, json.Unmarshal([]byte(body), &ov))
		return len(ov.Ckpts) == 2
	}, 10*time.Second, 5*time.Millisecond)
	kinds := map[string]int{}
	for _, e := range ov.Events {
		kinds[e.Kind]++
	}
	assert.Equal(t, map[string]int{"checkpoint": 2, "migration": 1, "rollback": 1}, kinds)

	code, body := post(t, srv, "/api/act", `{"action":"migrate","id":"t5","to":2}`, true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "migrated t5 from worker 1 to worker 2")
	code, body = post(t, srv, "/api/act", `{"action":"throw","id":"t5","message":"halt"}`, true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `threw \"halt\" into t5 on worker 1`)
	f.mu.Lock()
	assert.Equal(t, []string{"t5: halt"}, f.thrown, "the message reaches the coordinator")
	f.mu.Unlock()
	code, body = post(t, srv, "/api/act", `{"action":"explode","id":"t5"}`, true)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "kill, throw into or migrate")

	_, body = get(t, srv, "/metrics", false)
	for _, want := range []string{
		`stackless_steps_total{node="1"} 40`,
		`stackless_steps_total{node="2"} 7`,
		`stackless_tasklets{node="1",state="runnable"} 1`,
		`stackless_tasklets{node="1",state="blocked"} 1`,
		`stackless_blocked_tasklets{node="1"} 1`,
		`stackless_switches_total{node="1"} 30`,
		`stackless_channel_operations_total{node="1"} 22`,
		`stackless_timers{node="1"} 3`,
		`stackless_link_frames_total{direction="in",node="1"} 5`,
		`stackless_link_frames_total{direction="out",node="1"} 6`,
		`stackless_link_bytes_total{direction="in",node="1"} 500`,
		`stackless_link_bytes_total{direction="out",node="1"} 600`,
		"stackless_checkpoints_total 5",
		"stackless_checkpoint_size_bytes 4096",
		"stackless_checkpoint_duration_seconds 0.25",
		`stackless_heap_bytes{node="1"} 1.048576e+06`,
		"stackless_migrations_total 2",
		"stackless_rollbacks_total 1",
		"stackless_checkpoint_generation 4",
	} {
		assert.Contains(t, body, want)
	}
	assert.Contains(t, body, "stackless_checkpoint_failures 0")
	assert.NotContains(t, body, "stackless_channels{", "a worker's channels are not known: left out, not zero")
	require.Len(t, ov.Ckpts, 2)
	assert.Equal(t, int64(4096), ov.Ckpts[1].Bytes, "the timeline shows each checkpoint's size")
	assert.Equal(t, 250*time.Millisecond, ov.Ckpts[1].Duration, "and how long it took")
}

// Checkpoints failing in a row show in the overview's state line, as an
// event, and as a gauge above 0.
func TestClusterSourceShowsFailingCheckpoints(t *testing.T) {
	f := &fakeCluster{st: cluster.Status{Dir: "d", State: "running", LastGen: 3, LastAt: time.Unix(100, 0),
		Workers: []cluster.WorkerStats{{Node: 1, Tasklets: 2}}}}
	srv := startServer(t, observe.Config{Source: observe.NewClusterSource(f), Refresh: time.Millisecond})
	f.mu.Lock()
	f.st.CheckpointFailures, f.st.FailingSince, f.st.CheckpointErr = 2, time.Unix(200, 0), "record too large"
	f.mu.Unlock()
	var ov observe.Overview
	require.Eventually(t, func() bool { // the cache lives half a refresh
		_, body := get(t, srv, "/api/overview", false)
		ov = observe.Overview{}
		require.NoError(t, json.Unmarshal([]byte(body), &ov))
		return ov.State != "running"
	}, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, ov.State, "CHECKPOINTS FAILING: 2 in a row since")
	assert.Contains(t, ov.State, "the work since generation 3 is not saved; the newest failure: record too large")
	var texts []string
	for _, e := range ov.Events {
		texts = append(texts, e.Text)
	}
	assert.Contains(t, texts, "checkpoint failed: record too large")
	_, body := get(t, srv, "/metrics", false)
	assert.Contains(t, body, "stackless_checkpoint_failures 2")

	f.mu.Lock()
	f.st.State = "rolling back to the newest checkpoint: worker 1 died"
	f.mu.Unlock()
	require.Eventually(t, func() bool {
		_, body := get(t, srv, "/api/overview", false)
		ov = observe.Overview{}
		require.NoError(t, json.Unmarshal([]byte(body), &ov))
		return strings.HasPrefix(ov.State, "rolling back")
	}, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, ov.State, "rolling back to the newest checkpoint: worker 1 died; CHECKPOINTS FAILING: 2 in a row")
}

func TestSchedulerCheckpointMetrics(t *testing.T) {
	l := startLive(t, 1)
	src := observe.NewSchedulerSource("test", l.s, nil)
	src.SetCheckpoints(func() []observe.Checkpoint {
		return []observe.Checkpoint{{Gen: 1, Bytes: 100}, {Gen: 2, Bytes: 300}}
	})
	srv := startServer(t, observe.Config{Source: src})
	_, body := get(t, srv, "/metrics", false)
	assert.Contains(t, body, "stackless_checkpoint_generation 2")
	assert.Contains(t, body, "stackless_checkpoints_stored 2")
	assert.Contains(t, body, "stackless_checkpoint_size_bytes 300")
}

// The overview, read every refresh while a page is open, does not read ps
// (every tasklet of every worker: seconds for 100,000): the workers'
// counts say how many there are; only the tasklets table reads ps.
func TestClusterOverviewDoesNotReadEveryTasklet(t *testing.T) {
	f := &fakeCluster{st: cluster.Status{Dir: "d", State: "running", Workers: []cluster.WorkerStats{
		{Node: 1, Tasklets: 3, RunnableNow: 1, Blocked: 1}, {Node: 2, Tasklets: 2, Blocked: 2}}},
		ps: []cluster.TaskletView{{ID: 5, Kind: "k", Worker: 1, State: "runnable"}}}
	srv := startServer(t, observe.Config{Source: observe.NewClusterSource(f), Refresh: time.Millisecond})
	var ov observe.Overview
	_, body := get(t, srv, "/api/overview", false)
	require.NoError(t, json.Unmarshal([]byte(body), &ov))
	assert.Equal(t, 5, ov.Total, "the workers' counts")
	assert.Equal(t, map[string]int{"runnable": 1, "blocked": 3, "paused": 1}, ov.Counts)
	f.mu.Lock()
	assert.Empty(t, f.reads, "no ps for the overview")
	f.mu.Unlock()
	_, body = get(t, srv, "/api/tasklets", false)
	var p observe.TaskletPage
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	assert.Equal(t, 1, p.Total, "the table reads ps")
	f.mu.Lock()
	assert.Len(t, f.reads, 1)
	f.mu.Unlock()
}

// The tasklets table asks the cluster for the page it shows, filters
// included, and nothing more: the workers cut it.
func TestClusterTaskletsTableAsksForItsPage(t *testing.T) {
	f := &fakeCluster{st: cluster.Status{Dir: "d", State: "running"}}
	for i := range 120 {
		f.ps = append(f.ps, cluster.TaskletView{ID: tasklet.ID(1<<48 | (i + 1)), Kind: []string{"a", "b"}[i%2], Worker: 1, State: "runnable"})
	}
	srv := startServer(t, observe.Config{Source: observe.NewClusterSource(f), Refresh: time.Millisecond})
	var p observe.TaskletPage
	_, body := get(t, srv, "/api/tasklets?offset=20&limit=10&kind=b&state=runnable&node=1&q=T28", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	f.mu.Lock()
	require.Len(t, f.reads, 1)
	assert.Equal(t, cluster.ListQuery{Offset: 20, Limit: 10, Kind: "b", State: "runnable", Worker: 1, Text: "t28"}, f.reads[0])
	f.mu.Unlock()
	assert.Equal(t, 120, p.Total)
	assert.Equal(t, 60, p.Matched)
	assert.Equal(t, 20, p.Offset)
	require.Len(t, p.Rows, 10)
	assert.Equal(t, f.ps[41].ID.String(), p.Rows[0].ID, "the 21st of kind b")
	assert.Equal(t, "b", p.Rows[0].Kind)

	// Deeper than a cluster pages: the caller's mistake, said as such.
	code, body := get(t, srv, "/api/tasklets?offset=99990&limit=50", false)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "a page 99990 rows deep")
	assert.Contains(t, body, "goes 100000 rows past ?after=ID")

	// Past the window, the table pages on from the last row it showed.
	_, body = get(t, srv, "/api/tasklets?after="+f.ps[99].ID.String()+"&offset=10&limit=5", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	f.mu.Lock()
	assert.Equal(t, cluster.ListQuery{After: f.ps[99].ID, Offset: 10, Limit: 5}, f.reads[len(f.reads)-1])
	f.mu.Unlock()
	assert.Equal(t, 20, p.Matched, "the tasklets above the ID")
	require.Len(t, p.Rows, 5)
	assert.Equal(t, f.ps[110].ID.String(), p.Rows[0].ID)
	assert.Equal(t, cluster.MaxListWindow, p.Window)

	// A node no worker can have: an empty page, with the total.
	_, body = get(t, srv, "/api/tasklets?node=0", false)
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	assert.Empty(t, p.Rows)
	assert.Zero(t, p.Matched)
	assert.Equal(t, 120, p.Total)
}

// A worker that did not answer status shows in the overview with its
// error, and /metrics leaves it out rather than report zeros, which
// Prometheus would read as counter resets.
func TestClusterSourceShowsASilentWorker(t *testing.T) {
	f := &fakeCluster{st: cluster.Status{Dir: "d", State: "running", Workers: []cluster.WorkerStats{
		{Node: 1, Tasklets: 2, Steps: 40}, {Node: 2, Pid: 22, Err: "did not answer within 2s"}}}}
	srv := startServer(t, observe.Config{Source: observe.NewClusterSource(f), Refresh: time.Millisecond})
	var ov observe.Overview
	_, body := get(t, srv, "/api/overview", false)
	require.NoError(t, json.Unmarshal([]byte(body), &ov))
	require.Len(t, ov.Nodes, 2)
	assert.Empty(t, ov.Nodes[0].Error)
	assert.Equal(t, "did not answer within 2s", ov.Nodes[1].Error)
	assert.Equal(t, 22, ov.Nodes[1].Pid)

	_, body = get(t, srv, "/metrics", false)
	assert.Contains(t, body, `stackless_steps_total{node="1"} 40`)
	assert.NotContains(t, body, `node="2"`)
}
