package observe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Exec runs fn on the scheduler's goroutine between two steps and returns
// once it ran, or with ctx's error.
type Exec func(ctx context.Context, fn func(*scheduler.Scheduler)) error

// DoExec is the Exec of a scheduler whose loop runs (Run, RunBudget, Tick):
// fn goes through Scheduler.Do, which the loop drains between steps.
func DoExec(s *scheduler.Scheduler) Exec {
	return func(ctx context.Context, fn func(*scheduler.Scheduler)) error {
		done := make(chan struct{})
		s.Do(func(s *scheduler.Scheduler) { fn(s); close(done) })
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("observe: node %d did not answer (%w): %w", s.Node(), ErrNotRunning, ctx.Err())
		}
	}
}

// SchedulerSource shows one live scheduler (a demo, a program embedding
// the observer). Every read runs on the scheduler's goroutine through
// Exec, between steps: the scheduler needs no lock and its hot path no
// counter beyond those it keeps.
type SchedulerSource struct {
	Title string
	exec  Exec
	node  uint16

	mu        sync.Mutex
	lastSteps uint64
	lastAt    time.Time
	rate      float64
	ckpt      func() []Checkpoint
}

// NewSchedulerSource observes s through exec (DoExec(s) for a scheduler
// whose loop runs).
func NewSchedulerSource(title string, s *scheduler.Scheduler, exec Exec) *SchedulerSource {
	if exec == nil {
		exec = DoExec(s)
	}
	return &SchedulerSource{Title: title, exec: exec, node: s.Node()}
}

// SetCheckpoints makes the source show a timeline of checkpoints (for a
// program that checkpoints: its store's generations). fn is called from
// HTTP handlers and must be safe for that.
func (src *SchedulerSource) SetCheckpoints(fn func() []Checkpoint) { src.ckpt = fn }

func (src *SchedulerSource) run(ctx context.Context, fn func(*scheduler.Scheduler)) error {
	return src.exec(ctx, fn)
}

// Overview implements Source.
func (src *SchedulerSource) Overview(ctx context.Context) (*Overview, error) {
	ov := &Overview{Source: "scheduler", Title: src.Title, At: time.Now(), Counts: map[string]int{},
		Can: Capabilities{Kill: true, Throw: true}}
	var (
		n     Node
		infos []scheduler.Info
		chans []scheduler.ChannelInfo
	)
	// Only the copy runs on the scheduler's goroutine; the rows are built
	// after, while it runs on.
	err := src.run(ctx, func(s *scheduler.Scheduler) {
		n = Node{Node: s.Node(), Steps: s.Steps(), Runnable: s.RunCount(), Timers: len(s.WorldHeader().Timers),
			Switches: s.Switches(), ChannelOps: s.ChannelOps()}
		infos, chans = s.Tasklets(), s.Channels()
	})
	if err != nil {
		return nil, err
	}
	ov.Tasklets = make([]Tasklet, len(infos))
	for i, in := range infos {
		ov.Tasklets[i] = taskletRow(n.Node, in)
		ov.Counts[ov.Tasklets[i].State]++
	}
	ov.Channels = make([]Channel, len(chans))
	for i, c := range chans {
		ov.Channels[i] = channelRow(n.Node, c)
	}
	n.Tasklets, n.Channels = len(ov.Tasklets), len(ov.Channels)
	n.Blocked = ov.Counts["blocked"] + ov.Counts["sleeping"]
	n.StepsPerSec = src.stepRate(n.Steps)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n.HeapBytes = ms.HeapAlloc
	ov.Nodes, ov.Total, ov.Chans = []Node{n}, n.Tasklets, n.Channels
	if src.ckpt != nil {
		ov.Ckpts = src.ckpt()
	}
	return ov, nil
}

// stepRate is the steps per second since the previous overview.
func (src *SchedulerSource) stepRate(steps uint64) float64 {
	src.mu.Lock()
	defer src.mu.Unlock()
	now := time.Now()
	if !src.lastAt.IsZero() && now.Sub(src.lastAt) > 100*time.Millisecond && steps >= src.lastSteps {
		src.rate = float64(steps-src.lastSteps) / now.Sub(src.lastAt).Seconds()
	}
	if src.lastAt.IsZero() || now.Sub(src.lastAt) > 100*time.Millisecond {
		src.lastSteps, src.lastAt = steps, now
	}
	return src.rate
}

func taskletRow(node uint16, in scheduler.Info) Tasklet {
	return Tasklet{ID: taskletID(in.ID), Kind: in.Kind, State: in.State.String(), Node: node,
		Steps: in.Steps, Waits: waits(in)}
}

// waits says what a tasklet waits on, as ps and inspect say it.
func waits(in scheduler.Info) string {
	switch {
	case in.Op == "sleeping":
		return "sleeping until " + in.WakeAt.String()
	case in.Op != "" && len(in.Chans) == 0:
		return in.Op
	case in.Op != "":
		b := make([]byte, 0, len(in.Op)+12*len(in.Chans))
		b = append(b, in.Op...)
		for _, c := range in.Chans {
			b = append(b, " ch"...)
			b = strconv.AppendUint(b, uint64(c), 10)
		}
		return string(b)
	}
	return ""
}

func channelRow(node uint16, c scheduler.ChannelInfo) Channel {
	return Channel{ID: "ch" + strconv.FormatUint(uint64(c.ID), 10), Node: node, Cap: c.Cap, Len: c.Len, Balance: c.Balance, Closed: c.Closed,
		Senders: waiterIDs(c.Senders), Receivers: waiterIDs(c.Receivers)}
}

func waiterIDs(ids []tasklet.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "posted"
		if id != 0 {
			out[i] = taskletID(id)
		}
	}
	return out
}

// Tasklet implements Source: the tasklet's row and its behavior's exported
// fields (its whole continuation), as JSON.
func (src *SchedulerSource) Tasklet(ctx context.Context, id tasklet.ID) (*TaskletDetail, error) {
	var (
		d    TaskletDetail
		b    tasklet.Behavior
		ierr error
	)
	err := src.run(ctx, func(s *scheduler.Scheduler) {
		var in scheduler.Info
		if in, ierr = s.Info(id); ierr == nil {
			d.Tasklet, d.Atomic = taskletRow(s.Node(), in), in.Atomic
			b = s.Behavior(id)
			// Marshal here: the fields change with the next step.
			d.Fields, ierr = json.Marshal(b)
			if f, ok := b.(tasklet.Framer); ok {
				d.Frames = f.Where()
			}
		}
	})
	switch {
	case err != nil:
		return nil, err
	case errors.Is(ierr, scheduler.ErrDead), errors.Is(ierr, scheduler.ErrNoTasklet):
		return nil, fmt.Errorf("observe: %v on node %d: %w (it finished, or never was); the tasklets page lists the live ones", id, src.node, ErrNoTasklet)
	case ierr != nil:
		return nil, fmt.Errorf("observe: %v: %w", id, ierr)
	}
	return &d, nil
}

// Act implements Source: kill and throw; a single scheduler has nowhere to
// migrate to.
func (src *SchedulerSource) Act(ctx context.Context, a Action) (string, error) {
	var aerr error
	switch a.Kind {
	case "kill", "throw":
	case "migrate":
		return "", fmt.Errorf("observe: migrate %v: %w: a single scheduler has no other node; migrate in a cluster (stackless cluster up --http)", a.ID, ErrUnsupported)
	default:
		return "", fmt.Errorf("observe: action %q: %w; the actions are kill, throw and migrate", a.Kind, ErrUnsupported)
	}
	err := src.run(ctx, func(s *scheduler.Scheduler) {
		if _, aerr = s.Info(a.ID); aerr != nil {
			return
		}
		if a.Kind == "kill" {
			aerr = s.Kill(a.ID, true)
			return
		}
		msg := a.Message
		if msg == "" {
			msg = "thrown from the observer"
		}
		aerr = s.Throw(a.ID, errors.New(msg), true)
	})
	switch {
	case err != nil:
		return "", err
	case errors.Is(aerr, scheduler.ErrDead), errors.Is(aerr, scheduler.ErrNoTasklet):
		return "", fmt.Errorf("observe: %s %v: %w (it finished already)", a.Kind, a.ID, ErrNoTasklet)
	case aerr != nil:
		return "", fmt.Errorf("observe: %s %v: %w", a.Kind, a.ID, aerr)
	}
	if a.Kind == "kill" {
		return fmt.Sprintf("killed %v: its next step sees %v", a.ID, tasklet.ErrKilled), nil
	}
	return fmt.Sprintf("threw %q into %v", a.Message, a.ID), nil
}

// Metrics implements Source.
func (src *SchedulerSource) Metrics(ctx context.Context) (*Metrics, error) {
	m := &Metrics{}
	nm := NodeMetrics{ByState: map[string]int{}, HasLocal: true}
	err := src.run(ctx, func(s *scheduler.Scheduler) {
		nm.Node, nm.Steps, nm.Switches, nm.ChannelOps = s.Node(), s.Steps(), s.Switches(), s.ChannelOps()
		nm.Timers, nm.Blocked = s.TimerCount(), s.Blocked()
		for _, in := range s.Tasklets() {
			nm.ByState[in.State.String()]++
		}
		nm.Channels = len(s.Channels())
	})
	if err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	nm.Heap = ms.HeapAlloc
	m.Nodes = []NodeMetrics{nm}
	if src.ckpt != nil {
		if cs := src.ckpt(); len(cs) > 0 {
			last := cs[len(cs)-1]
			m.HasCheckpoints, m.Checkpoints, m.CheckpointGen = true, uint64(len(cs)), last.Gen
			m.CheckpointSeconds, m.CheckpointBytes = last.Duration.Seconds(), last.Bytes
		}
	}
	return m, nil
}
