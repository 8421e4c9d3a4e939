package observe

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/stackless-go/stackless/tasklet"
)

// These are the JSON shapes the pages read; tests and scripts may read them
// too (GET /api/...), so fields are added, never renamed.

// Overview is one look at the whole system: what every page shows at its
// top and what the event stream sends.
type Overview struct {
	Source   string         `json:"source"` // "scheduler", "cluster" or "file"
	Title    string         `json:"title"`
	At       time.Time      `json:"at"`
	State    string         `json:"state,omitempty"`  // a cluster's state line
	Leader   string         `json:"leader,omitempty"` // the coordinator that leads, as status says it
	Nodes    []Node         `json:"nodes"`
	Counts   map[string]int `json:"counts"` // tasklets by state
	Total    int            `json:"tasklets"`
	Chans    int            `json:"channels"`
	Ckpts    []Checkpoint   `json:"checkpoints"`
	Events   []Event        `json:"events"`
	Can      Capabilities   `json:"can"`
	Tasklets []Tasklet      `json:"-"` // served paged by /api/tasklets
	Channels []Channel      `json:"-"` // served busiest first by /api/channels
}

// Capabilities says which actions and pages the source supports.
type Capabilities struct {
	Kill    bool `json:"kill"`
	Throw   bool `json:"throw"`
	Migrate bool `json:"migrate"`
	Game    bool `json:"game"`
	File    bool `json:"file"`
}

// Node is one scheduler: the only one of a single process, or a cluster's
// worker.
type Node struct {
	Node         uint16  `json:"node"`
	Host         string  `json:"host,omitempty"`
	Pid          int     `json:"pid,omitempty"`
	Tasklets     int     `json:"tasklets"`
	Runnable     int     `json:"runnable"`
	Blocked      int     `json:"blocked"`
	Timers       int     `json:"timers"`
	Channels     int     `json:"channels"`
	Steps        uint64  `json:"steps"`
	StepsPerSec  float64 `json:"steps_per_sec"`
	HeapBytes    uint64  `json:"heap_bytes,omitempty"`
	Paused       bool    `json:"paused,omitempty"`
	Switches     uint64  `json:"switches"`
	ChannelOps   uint64  `json:"channel_ops"`
	LinkBytesIn  uint64  `json:"link_bytes_in,omitempty"` // a cluster worker's node links
	LinkBytesOut uint64  `json:"link_bytes_out,omitempty"`
	Error        string  `json:"error,omitempty"` // the node did not answer: its figures are zero
}

// Tasklet is one row of the tasklets table.
type Tasklet struct {
	ID    string `json:"id"` // t123
	Kind  string `json:"kind"`
	State string `json:"state"`
	Node  uint16 `json:"node"`
	Steps uint64 `json:"steps"`
	Waits string `json:"waits,omitempty"` // "receiving c5", "sleeping until 2s", ...
}

// TaskletDetail is a tasklet's page: its row and its fields, as inspect
// shows them, and for a straight-line tasklet (lowered by stackless gen)
// the source line each of its frames is suspended at, outermost first.
type TaskletDetail struct {
	Tasklet
	Atomic bool            `json:"atomic,omitempty"`
	Fields json.RawMessage `json:"fields,omitempty"`
	Frames []tasklet.Frame `json:"frames,omitempty"`
}

// Channel is one row of the channels table.
type Channel struct {
	ID        string   `json:"id"` // c12
	Node      uint16   `json:"node"`
	Cap       int      `json:"cap"`
	Len       int      `json:"len"`
	Balance   int      `json:"balance"`
	Closed    bool     `json:"closed,omitempty"`
	Senders   []string `json:"senders"`   // blocked, in queue order ("posted" for a value from outside)
	Receivers []string `json:"receivers"` // blocked, in queue order
}

// busy orders channels: the most waiters and buffered values first.
func (c *Channel) busy() int { return len(c.Senders) + len(c.Receivers) + c.Len }

// Checkpoint is one point on the checkpoint timeline.
type Checkpoint struct {
	Gen      uint64        `json:"gen"`
	At       time.Time     `json:"at"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// Event is something that happened: a checkpoint, a migration, a rollback,
// an action taken from a page.
type Event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
}

// taskletID is id.String() without fmt: the overview formats 100,000 of
// them.
func taskletID(id tasklet.ID) string { return "t" + strconv.FormatUint(uint64(id), 10) }
