package observe

import (
	"context"
	"errors"

	"github.com/stackless-go/stackless/tasklet"
)

// Sentinel errors of sources and the server, for callers that test them.
var (
	// ErrUnsupported: the source cannot do this action (migrate on a single
	// scheduler, anything on a checkpoint file).
	ErrUnsupported = errors.New("not supported by this source")
	// ErrNotRunning: the scheduler did not answer; its loop has stopped.
	ErrNotRunning = errors.New("the scheduler is not running")
	// ErrNoTasklet: no live tasklet has that ID.
	ErrNoTasklet = errors.New("no such tasklet")
)

// Source is what the observer shows and acts on. Its methods are called
// from HTTP handlers, concurrently; each must be safe for that and must
// return by ctx's deadline.
type Source interface {
	// Overview reads the whole system once.
	Overview(ctx context.Context) (*Overview, error)
	// Tasklet reads one tasklet's page.
	Tasklet(ctx context.Context, id tasklet.ID) (*TaskletDetail, error)
	// Act kills, throws into or migrates a tasklet and says what it did.
	Act(ctx context.Context, a Action) (string, error)
	// Metrics reads the counters /metrics exports.
	Metrics(ctx context.Context) (*Metrics, error)
}

// Action is a request from a page: Kind "kill", "throw" (Message is the
// error thrown) or "migrate" (To is the worker).
type Action struct {
	Kind    string     `json:"action"`
	ID      tasklet.ID `json:"-"`
	To      uint16     `json:"to,omitempty"`
	Message string     `json:"message,omitempty"`
}

// Metrics is what a scrape reads: counters the scheduler and the cluster
// keep anyway. A field a source does not know stays zero and its Has flag
// false, so /metrics leaves it out rather than export a false zero.
type Metrics struct {
	Nodes []NodeMetrics

	HasCheckpoints     bool
	Checkpoints        uint64  // generations stored (a scheduler's store)
	CheckpointsTaken   uint64  // checkpoints taken since the start (a cluster's coordinator)
	CheckpointGen      uint64  // the newest generation
	CheckpointSeconds  float64 // how long the newest took
	CheckpointBytes    int64   // how big the newest is
	HasCluster         bool
	CheckpointFailures uint64 // checkpoints that failed in a row since the newest stored
	Migrations         uint64
	Rollbacks          uint64
	WorkersLeft        uint64
	CoordinatorUptimeS float64
}

// NodeMetrics are one scheduler's counters.
type NodeMetrics struct {
	Node     uint16
	Steps    uint64
	ByState  map[string]int // live tasklets by state
	Timers   int
	Channels int
	Heap     uint64 // 0: unknown
	HasLocal bool   // Channels are known (a local scheduler)

	Switches   uint64
	ChannelOps uint64
	Blocked    int  // blocked on a channel, a remote operation or an effect, or sleeping
	HasLinks   bool // the link counters are known (a cluster worker)
	FramesIn   uint64
	FramesOut  uint64
	BytesIn    uint64
	BytesOut   uint64
}
