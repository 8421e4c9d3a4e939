package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Control kinds. "x." is served by every node, "c." by the coordinator,
// "w." by workers.
const (
	kindChunk = "x.chunk"

	kindJoin       = "c.join"
	kindReady      = "c.ready"
	kindStatus     = "c.status"
	kindSpawn      = "c.spawn"
	kindList       = "c.list"
	kindInspect    = "c.inspect"
	kindMigrate    = "c.migrate"
	kindKill       = "c.kill"
	kindThrow      = "c.throw"
	kindCheckpoint = "c.checkpoint"
	kindRestore    = "c.restore"
	kindDown       = "c.down"
	kindLeave      = "c.leave"

	kindWStats    = "w.stats"
	kindWSpawn    = "w.spawn"
	kindWList     = "w.list"
	kindWInspect  = "w.inspect"
	kindWKill     = "w.kill"
	kindWThrow    = "w.throw"
	kindWMigrate  = "w.migrate"
	kindWShed     = "w.shed"
	kindWPause    = "w.pause"
	kindWMark     = "w.mark"
	kindWDrain    = "w.drain"
	kindWSnapshot = "w.snapshot"
	kindWStore    = "w.store"
	kindWResume   = "w.resume"
	kindWPeers    = "w.peers"
	kindWRoute    = "w.route"
	kindWStop     = "w.stop"
	kindWAwait    = "w.await"
	kindWChan     = "w.chan"
	kindWAdopt    = "w.adopt"
	kindAwait     = "c.await"
)

// joinReq is a starting worker asking the coordinator what to be.
type joinReq struct {
	Node uint16 `json:"node"` // the node it was started as; 0 for a worker joining over TCP
	Pid  int    `json:"pid"`
	Host string `json:"host"`
	// Member is the ID of its entry in the members bucket (a worker
	// joining over NATS: the leader links it once that entry is ready).
	Member string `json:"member,omitempty"`
	// Token, with Node, claims the placement a restore reserved for this
	// worker (one that joined over NATS, told to join again as Node: see
	// rejoin.go). Without it a worker joining over NATS gets a new node.
	Token string `json:"token,omitempty"`
}

// joinResp tells it: its node, the logical nodes it hosts, and its world
// (nil: start empty).
type joinResp struct {
	Node  uint16   `json:"node"`
	Hosts []uint16 `json:"hosts"`
	// World is the object of the checkpoint Object Store the worker reads
	// its world from (nil: start empty).
	World *worldPart `json:"world,omitempty"`
	// ListenTCP, for a local worker of a cluster that listens on TCP, is
	// where it listens on TCP too (besides its unix socket), so that
	// workers on other hosts can reach it.
	ListenTCP string `json:"listen_tcp,omitempty"`
	// OrphanAfter is how long a local worker runs on without a
	// coordinator before it exits (see Config.OrphanAfter).
	OrphanAfter time.Duration `json:"orphan_after_ns,omitempty"`
	// Journal: the cluster keeps an effect journal; the worker records its
	// effects' results there (see journal.go).
	Journal bool `json:"journal,omitempty"`
	// JournalBucket is the journal's KV bucket, CkptBucket the Object
	// Store the worker reads and writes its worlds in, MembersBucket the
	// KV bucket it registers in: the cluster's name is in each (names.go),
	// and a local worker knows it from here only.
	JournalBucket string `json:"journal_bucket,omitempty"`
	CkptBucket    string `json:"ckpt_bucket,omitempty"`
	MembersBucket string `json:"members_bucket,omitempty"`
	// NATS and NATSCreds, for a local worker of a cluster on outside NATS
	// servers (Config.NATS): where to journal, unless the worker was given
	// its own (--nats). The creds file is on the coordinator's machine.
	NATS      string `json:"nats,omitempty"`
	NATSCreds string `json:"nats_creds,omitempty"`
}

// adoptResp is what a worker that outlived its coordinator tells the new
// one (adopt.go): who it is, what it hosts, whom it is linked to, and the
// routing table it was last given.
type adoptResp struct {
	Node       uint16            `json:"node"`
	Hosts      []uint16          `json:"hosts"`
	Pid        int               `json:"pid"`
	Host       string            `json:"host"`
	HostID     string            `json:"host_id,omitempty"`
	Unix       string            `json:"unix,omitempty"`
	TCP        string            `json:"tcp,omitempty"`
	Marker     channel.ID        `json:"marker"`
	Peers      []uint16          `json:"peers"`  // workers it has a live link to
	Routes     map[uint16]uint16 `json:"routes"` // the last table it was given (nil: never resumed)
	Integrated bool              `json:"integrated"`
	Epoch      uint16            `json:"epoch"` // the newest checkpoint epoch it took part in
	Store      bool              `json:"store,omitempty"`
	// Rejoins: a worker of another machine (--nats, --join), which joins
	// again by itself when told to; a local worker of a folder ends instead.
	Rejoins bool `json:"rejoins,omitempty"`
}

// readyReq announces a worker whose node is up and listening: on a unix
// socket valid on host HostID, on TCP, or both (see peerAddr).
type readyReq struct {
	Node   uint16     `json:"node"`
	HostID string     `json:"host_id,omitempty"`
	Unix   string     `json:"unix,omitempty"`
	TCP    string     `json:"tcp,omitempty"`
	Marker channel.ID `json:"marker"`
	Pid    int        `json:"pid"`
	Host   string     `json:"host"`
	// Store: it has a NATS connection and stores its world itself at a
	// checkpoint (a worker joined with --join has none).
	Store bool `json:"store,omitempty"`
}

type peersReq struct {
	Peers []peerAddr `json:"peers"`
}

type routeReq struct {
	Routes map[uint16]uint16 `json:"routes"`
}

// leaveReq is a worker asking to leave the cluster.
type leaveReq struct {
	Node uint16 `json:"node"`
}

// WorkerStats is what a worker reports of itself.
type WorkerStats struct {
	Node        uint16   `json:"node"`
	Hosts       []uint16 `json:"hosts"`
	Pid         int      `json:"pid"`
	Host        string   `json:"host,omitempty"`
	Tasklets    int      `json:"tasklets"`
	Runnable    float64  `json:"runnable"` // average since the last read
	RunnableNow int      `json:"runnable_now"`
	StepsPerSec float64  `json:"steps_per_sec"`
	Steps       uint64   `json:"steps"`
	HeapBytes   uint64   `json:"heap_bytes"`
	Paused      bool     `json:"paused"`
	// Counters for /metrics, read at the end of each slice of the
	// worker's loop (the scheduler keeps them; see scheduler.Switches),
	// and the node's link traffic (ipc.Stats) when status asks.
	Switches   uint64 `json:"switches"`
	ChannelOps uint64 `json:"channel_ops"`
	Blocked    int    `json:"blocked"`
	Timers     int    `json:"timers"`
	FramesIn   uint64 `json:"frames_in"`
	FramesOut  uint64 `json:"frames_out"`
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
	// Err says why the worker did not answer (within StatusWait); its
	// counters are then zero. Node, Hosts, Pid and Host are the
	// coordinator's own record.
	Err string `json:"error,omitempty"`
}

// downResp answers a shutdown: Final says why its final checkpoint was
// not stored ("" when it was, or when no worker ran).
type downResp struct {
	Final string `json:"final_checkpoint_error,omitempty"`
}

type spawnReq struct {
	Kind   string            `json:"kind"`
	Args   map[string]string `json:"args,omitempty"`
	Count  int               `json:"count"`
	Worker uint16            `json:"worker,omitempty"` // 0: the coordinator places them
	Place  string            `json:"place,omitempty"`  // PlaceRoundRobin or PlaceLeastLoaded
	// Hold leaves the worker paused after the spawn (resumed by the
	// spawn's checkpoint), so no tasklet runs before its checkpoint is
	// stored and every worker starts the new work together.
	Hold bool `json:"hold,omitempty"`
}

// Spawned is one tasklet a spawn made.
type Spawned struct {
	ID       tasklet.ID            `json:"id"`
	Worker   uint16                `json:"worker"`
	Channels map[string]channel.ID `json:"channels,omitempty"` // the @chan arguments, by name
}

// SpawnResult lists the tasklets a spawn made and the checkpoint that
// holds them.
type SpawnResult struct {
	Tasklets []Spawned `json:"tasklets"`
	Gen      uint64    `json:"gen"`
}

// TaskletView is one tasklet as ps shows it.
type TaskletView struct {
	ID     tasklet.ID      `json:"id"`
	Kind   string          `json:"kind"`
	Worker uint16          `json:"worker"`
	State  string          `json:"state"`
	Steps  uint64          `json:"steps"`
	Op     string          `json:"op,omitempty"` // what a blocked tasklet does: receiving, sending, selecting, sleeping
	Fields json.RawMessage `json:"fields,omitempty"`
	Frames []tasklet.Frame `json:"frames,omitempty"` // where a straight-line tasklet's frames are suspended
}

type idReq struct {
	ID tasklet.ID `json:"id"`
}

// throwReq asks for an error to be thrown into a tasklet.
type throwReq struct {
	ID      tasklet.ID `json:"id"`
	Message string     `json:"message"`
}

type migrateReq struct {
	ID tasklet.ID `json:"id"`
	To uint16     `json:"to"`
}

// MigrateResult says where a tasklet moved.
type MigrateResult struct {
	ID   tasklet.ID `json:"id"`
	From uint16     `json:"from"`
	To   uint16     `json:"to"`
}

type shedReq struct {
	To    uint16 `json:"to"`
	Count int    `json:"count"`
	// Within bounds the time the shed starts moves in, so it answers
	// before its caller gives up (0: until paused, as before).
	Within time.Duration `json:"within_ns,omitempty"`
}

type shedResp struct {
	Moved []tasklet.ID `json:"moved"`
}

// KillResult says where a killed tasklet was.
type KillResult struct {
	ID     tasklet.ID `json:"id"`
	Worker uint16     `json:"worker"`
}

// ThrowResult says where a tasklet was when an error was thrown into it.
type ThrowResult = KillResult

// sentResp is a worker's count of frames sent to its peers so far.
type sentResp struct {
	Sent uint64 `json:"sent"`
}

// markReq runs one flush round of checkpoint Epoch on a worker.
type markReq struct {
	Epoch uint16     `json:"epoch"`
	Round uint32     `json:"round"`
	Peers []peerAddr `json:"peers"`
}

// CheckpointResult describes a consistent cluster checkpoint.
type CheckpointResult struct {
	Gen     uint64        `json:"gen"`
	Workers int           `json:"workers"`
	Rounds  int           `json:"rounds"` // flush rounds of the barrier
	Bytes   int           `json:"bytes"`
	Paused  time.Duration `json:"paused_ns"` // how long the cluster stood still
}

type restoreReq struct {
	Gen     uint64 `json:"gen"`
	Workers int    `json:"workers"`
}

// RestoreResult describes a restore.
type RestoreResult struct {
	Gen     uint64   `json:"gen"`
	From    int      `json:"from_workers"`
	Workers []uint16 `json:"workers"`
	// Remote are the workers of Workers on other machines (joined over
	// NATS) that the restore placed worlds on.
	Remote []uint16 `json:"remote,omitempty"`
}

// Status is the cluster as `stackless cluster status` shows it.
type Status struct {
	Dir        string            `json:"dir"`
	Workers    []WorkerStats     `json:"workers"`
	Routes     map[uint16]uint16 `json:"routes"` // logical node → worker
	LastGen    uint64            `json:"last_checkpoint"`
	LastAt     time.Time         `json:"last_checkpoint_at"`
	Rollbacks  int               `json:"rollbacks"`
	Left       int               `json:"workers_left"` // workers that left cleanly (their tasklets handed over)
	Migrations int               `json:"balancer_migrations"`
	Uptime     time.Duration     `json:"uptime_ns"`
	// Checkpoints counts the checkpoints this coordinator took; LastBytes
	// and LastDuration are the newest one's size (the workers' worlds) and
	// how long it took, barrier and store included (0 until it took one).
	Checkpoints  int           `json:"checkpoints_taken"`
	LastBytes    int           `json:"last_checkpoint_bytes"`
	LastDuration time.Duration `json:"last_checkpoint_ns"`
	// CheckpointFailures counts the checkpoints that failed in a row since
	// the newest one stored (0: none did), the first at FailingSince;
	// CheckpointErr is the newest failure's error. While they fail, a
	// rollback goes back to LastGen and the work since is lost.
	CheckpointFailures int       `json:"checkpoint_failures,omitempty"`
	FailingSince       time.Time `json:"checkpoint_failing_since,omitzero"`
	CheckpointErr      string    `json:"checkpoint_error,omitempty"`
	// State is "running", "recovering: ..." while failed rollbacks are
	// retried, or "down: rollback failed N times: ..." once they gave up.
	State string `json:"state"`
	// Adopted counts the workers this coordinator took over, still
	// running, from a coordinator that died; Note says what the start did
	// about such workers ("" when there were none).
	Adopted int    `json:"adopted,omitempty"`
	Note    string `json:"note,omitempty"`
	// Leader is the coordinator that answered: it holds the lease.
	Leader *Leader `json:"leader,omitempty"`
}

// CrashLooping reports whether the cluster fails right after each rollback
// (State says how, and when the next rollback comes).
func (s Status) CrashLooping() bool { return strings.HasPrefix(s.State, stateCrashLoop) }

// Failing says that checkpoints are failing, how long for and why ("" when
// the newest one was stored): the work since LastGen is not saved.
func (s Status) Failing() string {
	if s.CheckpointFailures == 0 {
		return ""
	}
	return fmt.Sprintf("CHECKPOINTS FAILING: %d in a row since %s, the work since generation %d is not saved; the newest failure: %s",
		s.CheckpointFailures, s.FailingSince.Local().Format(time.TimeOnly), s.LastGen, s.CheckpointErr)
}

// Answering is how many workers answered (those listed without Err): a
// caller waiting for n running workers waits for Answering() == n, since
// a silent or dead worker is listed too, until the coordinator drops it.
func (s Status) Answering() int {
	n := 0
	for _, w := range s.Workers {
		if w.Err == "" {
			n++
		}
	}
	return n
}
