package observe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

// ClusterAPI is what the observer needs of a coordinator: what
// `stackless cluster status`, `ps`, `kill` and `migrate` use.
// *cluster.Client has it.
type ClusterAPI interface {
	Status(ctx context.Context) (cluster.Status, error)
	List(ctx context.Context, q cluster.ListQuery) (cluster.TaskletList, error)
	Inspect(ctx context.Context, id tasklet.ID) (cluster.TaskletView, error)
	Kill(ctx context.Context, id tasklet.ID) (cluster.KillResult, error)
	Throw(ctx context.Context, id tasklet.ID, message string) (cluster.ThrowResult, error)
	Migrate(ctx context.Context, id tasklet.ID, to uint16) (cluster.MigrateResult, error)
}

var _ ClusterAPI = (*cluster.Client)(nil)

// ClusterSource shows a cluster through its coordinator. Checkpoints,
// migrations and rollbacks become events as the counters status reports
// move between two looks.
type ClusterSource struct {
	api   ClusterAPI
	mu    sync.Mutex
	prev  *cluster.Status
	ckpts []Checkpoint
	evs   []Event
}

// maxTimeline bounds the checkpoints and events kept for the pages.
const maxTimeline = 200

// NewClusterSource observes the cluster api talks to.
func NewClusterSource(api ClusterAPI) *ClusterSource {
	return &ClusterSource{api: api}
}

// Page implements PageSource: the workers filter and cut the page.
func (src *ClusterSource) Page(ctx context.Context, q PageQuery) (TaskletPage, error) {
	p := TaskletPage{Offset: q.Offset, Rows: []Tasklet{}, Window: cluster.MaxListWindow}
	if q.Offset+q.Limit > cluster.MaxListWindow {
		return p, fmt.Errorf("observe: a page %d rows deep: %w (a cluster's table goes %d rows past ?after=ID: give the last ID of a page as after, as the tasklets page does, or `stackless cluster ps --after ID`)",
			q.Offset, ErrUnsupported, cluster.MaxListWindow)
	}
	lq := cluster.ListQuery{After: q.After, Offset: q.Offset, Limit: q.Limit, Kind: q.Kind, State: q.State, Text: q.Text}
	none := q.Node != -1 && (q.Node < 1 || q.Node > math.MaxUint16) // no worker has that number
	if none {
		lq = cluster.ListQuery{Limit: 1} // the total alone
	} else if q.Node != -1 {
		lq.Worker = uint16(q.Node)
	}
	l, err := src.api.List(ctx, lq)
	if err != nil {
		return p, fmt.Errorf("observe: cluster ps: %w", err)
	}
	p.Total = l.Total
	if none {
		return p, nil
	}
	p.Matched = l.Matched
	for _, t := range l.Tasklets {
		p.Rows = append(p.Rows, Tasklet{ID: taskletID(t.ID), Kind: t.Kind, State: t.State, Node: t.Worker, Steps: t.Steps, Waits: t.Op})
	}
	return p, nil
}

// Overview implements Source.
func (src *ClusterSource) Overview(ctx context.Context) (*Overview, error) {
	st, err := src.api.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("observe: cluster status: %w", err)
	}
	// The overview is the workers' own counts: ps, the one read that
	// grows with the tasklets, is left to the tasklets table (Rows).
	ov := &Overview{Source: "cluster", Title: "cluster " + st.Dir, At: time.Now(), State: st.State,
		Counts: map[string]int{}, Can: Capabilities{Kill: true, Throw: true, Migrate: true}}
	if f := st.Failing(); f != "" {
		ov.State = f
		if st.State != "" && st.State != "running" {
			ov.State = st.State + "; " + ov.State
		}
	}
	// status names no leader yet: one coordinator runs the cluster.
	ov.Leader = "the coordinator of " + st.Dir
	for _, w := range st.Workers {
		ov.Nodes = append(ov.Nodes, Node{Node: w.Node, Host: w.Host, Pid: w.Pid, Tasklets: w.Tasklets,
			Runnable: w.RunnableNow, Blocked: w.Blocked, Steps: w.Steps, StepsPerSec: w.StepsPerSec, HeapBytes: w.HeapBytes,
			Paused: w.Paused, Timers: w.Timers, Switches: w.Switches, ChannelOps: w.ChannelOps,
			LinkBytesIn: w.BytesIn, LinkBytesOut: w.BytesOut, Error: w.Err})
		ov.Total += w.Tasklets
		ov.Counts["runnable"] += w.RunnableNow
		ov.Counts["blocked"] += w.Blocked
		ov.Counts["paused"] += max(w.Tasklets-w.RunnableNow-w.Blocked, 0)
	}
	for k, v := range ov.Counts {
		if v == 0 {
			delete(ov.Counts, k)
		}
	}
	src.mu.Lock()
	src.note(st)
	ov.Ckpts, ov.Events = append([]Checkpoint(nil), src.ckpts...), append([]Event(nil), src.evs...)
	src.mu.Unlock()
	return ov, nil
}

// note turns what moved since the previous status into events.
func (src *ClusterSource) note(st cluster.Status) {
	now := time.Now()
	p := src.prev
	if st.LastGen != 0 && (p == nil || st.LastGen != p.LastGen) {
		src.ckpts = appendCapped(src.ckpts, Checkpoint{Gen: st.LastGen, At: st.LastAt, Bytes: int64(st.LastBytes), Duration: st.LastDuration})
		src.event(Event{At: st.LastAt, Kind: "checkpoint", Text: fmt.Sprintf("checkpoint generation %d", st.LastGen)})
	}
	if st.CheckpointFailures > 0 && (p == nil || st.CheckpointFailures > p.CheckpointFailures) {
		src.event(Event{At: now, Kind: "checkpoint", Text: "checkpoint failed: " + st.CheckpointErr})
	}
	if p != nil {
		if d := st.Migrations - p.Migrations; d > 0 {
			src.event(Event{At: now, Kind: "migration", Text: fmt.Sprintf("the balancer migrated %d tasklets", d)})
		}
		if d := st.Rollbacks - p.Rollbacks; d > 0 {
			src.event(Event{At: now, Kind: "rollback", Text: fmt.Sprintf("rolled back to generation %d (%d rollbacks so far)", st.LastGen, st.Rollbacks)})
		}
		if d := st.Left - p.Left; d > 0 {
			src.event(Event{At: now, Kind: "leave", Text: fmt.Sprintf("%d workers left", d)})
		}
	}
	src.prev = &st
}

func (src *ClusterSource) event(e Event) { src.evs = appendCapped(src.evs, e) }

func appendCapped[T any](s []T, v T) []T {
	s = append(s, v)
	if len(s) > maxTimeline {
		s = s[len(s)-maxTimeline:]
	}
	return s
}

// Tasklet implements Source.
func (src *ClusterSource) Tasklet(ctx context.Context, id tasklet.ID) (*TaskletDetail, error) {
	t, err := src.api.Inspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("observe: cluster inspect %v: %w", id, err)
	}
	return &TaskletDetail{Tasklet: Tasklet{ID: taskletID(t.ID), Kind: t.Kind, State: t.State, Node: t.Worker,
		Steps: t.Steps, Waits: t.Op}, Fields: t.Fields, Frames: t.Frames}, nil
}

// Act implements Source: kill, throw and migrate.
func (src *ClusterSource) Act(ctx context.Context, a Action) (string, error) {
	var msg string
	switch a.Kind {
	case "kill":
		r, err := src.api.Kill(ctx, a.ID)
		if err != nil {
			return "", fmt.Errorf("observe: cluster kill %v: %w", a.ID, err)
		}
		msg = fmt.Sprintf("killed %v on worker %d", r.ID, r.Worker)
	case "throw":
		text := a.Message
		if text == "" {
			text = "thrown from the observer"
		}
		r, err := src.api.Throw(ctx, a.ID, text)
		if err != nil {
			return "", fmt.Errorf("observe: cluster throw into %v: %w", a.ID, err)
		}
		msg = fmt.Sprintf("threw %q into %v on worker %d", text, r.ID, r.Worker)
	case "migrate":
		if a.To == 0 {
			return "", errors.New("observe: migrate: say which worker to move it to (to: 1 or more)")
		}
		r, err := src.api.Migrate(ctx, a.ID, a.To)
		if err != nil {
			return "", fmt.Errorf("observe: cluster migrate %v to worker %d: %w", a.ID, a.To, err)
		}
		msg = fmt.Sprintf("migrated %v from worker %d to worker %d", r.ID, r.From, r.To)
	default:
		return "", fmt.Errorf("observe: %s in a cluster: %w; kill, throw into or migrate it", a.Kind, ErrUnsupported)
	}
	src.mu.Lock()
	src.event(Event{At: time.Now(), Kind: a.Kind, Text: msg + " (from the observer)"})
	src.mu.Unlock()
	return msg, nil
}

// Metrics implements Source: what status reports, per worker.
func (src *ClusterSource) Metrics(ctx context.Context) (*Metrics, error) {
	st, err := src.api.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("observe: cluster status: %w", err)
	}
	m := &Metrics{HasCluster: true, Migrations: uint64(st.Migrations), Rollbacks: uint64(st.Rollbacks),
		WorkersLeft: uint64(st.Left), CoordinatorUptimeS: st.Uptime.Seconds()}
	m.CheckpointFailures = uint64(st.CheckpointFailures)
	if st.LastGen != 0 {
		m.HasCheckpoints, m.CheckpointGen = true, st.LastGen
		m.CheckpointsTaken = uint64(st.Checkpoints)
		m.CheckpointSeconds, m.CheckpointBytes = st.LastDuration.Seconds(), int64(st.LastBytes)
	}
	for _, w := range st.Workers {
		if w.Err != "" {
			continue // no figures: zeros would read as counter resets
		}
		paused := max(w.Tasklets-w.RunnableNow-w.Blocked, 0)
		m.Nodes = append(m.Nodes, NodeMetrics{Node: w.Node, Steps: w.Steps, Heap: w.HeapBytes,
			ByState:  map[string]int{"runnable": w.RunnableNow, "blocked": w.Blocked, "paused": paused},
			Switches: w.Switches, ChannelOps: w.ChannelOps, Blocked: w.Blocked, Timers: w.Timers,
			HasLinks: true, FramesIn: w.FramesIn, FramesOut: w.FramesOut, BytesIn: w.BytesIn, BytesOut: w.BytesOut})
	}
	return m, nil
}
