package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// WorkerConfig configures RunWorker. A local worker (started by `cluster
// up`) has Dir and Node; a worker on another machine has Join and TLS.
type WorkerConfig struct {
	Dir  string // cluster directory: DIR/secret, DIR/sock/
	Node uint16 // the node the coordinator started this worker as (0 with Join)

	Join string // HOST:PORT of the coordinator's TCP listener

	// NATS (URL[,URL]) and Creds (a .creds or nkey seed file): the
	// cluster's outside NATS servers (`worker --nats URL --creds FILE`), as
	// the coordinator's Config.NATS and NATSCreds. A worker with them and
	// no Dir or Join joins through NATS (RunJoinedWorker): it registers in
	// the members bucket and the leading coordinator links to it. The
	// worker keeps its effect journal there and stores its world there at
	// a checkpoint. A local worker without them uses the server its
	// coordinator embeds (DIR/nats.url); one that joined over TCP without
	// them runs without a journal (its effects are at-least-once, it logs
	// so once) and sends its world to the coordinator at a checkpoint.
	NATS  string
	Creds string
	// Name is the cluster's name (`worker --name`, the coordinator's
	// Config.Name; "" is DefaultName): a worker joining through NATS asks
	// on that cluster's join subject and registers in its members bucket.
	// A local worker or one joining over TCP is told the bucket names
	// when it joins.
	Name string

	TLS       *tls.Config // mutual TLS for TCP links (ipc.LoadTLSConfig)
	Listen    string      // TCP address to listen on for peers with Join (default ":0")
	Advertise string      // the address peers dial (default: the listen port on the address that reaches the coordinator)

	// With Join, RunJoinedWorker retries a failure to join that may heal
	// (connection refused, a timeout) JoinAttempts times in a row (default
	// 10), pausing JoinBackoff (default 0.5s) and twice as long each time.
	JoinAttempts int
	JoinBackoff  time.Duration

	Secret   []byte           // the cluster secret (default: read DIR/secret)
	Registry *pickle.Registry // default pickle.Default
	Log      *slog.Logger     // default: text on stderr

	// Effects are the effects the worker's tasklets may call (default
	// DefaultEffects()); EffectWorkers bounds the calls running at once
	// (default scheduler.DefaultEffectWorkers). See effects.go.
	Effects       *scheduler.Effects
	EffectWorkers int

	// rejoin is the placement a restore reserved for this worker (one
	// that joined over NATS) when it told it to join again; nil: join as
	// a new, empty worker. RunJoinedWorker sets it for one attempt.
	rejoin *rejoinAs
}

var (
	// ErrRejoin is returned by RunWorker when the coordinator restored a
	// checkpoint and wants this remote worker to join again: empty, or (a
	// worker that joined over NATS) as the node whose world the restore
	// planned for it.
	ErrRejoin = errors.New("cluster: the coordinator asked this worker to join again")
	// ErrCoordinatorLost is returned by RunWorker of a worker that joined
	// over TCP when the link to the coordinator dropped: it joins again.
	ErrCoordinatorLost = errors.New("cluster: the link to the coordinator is gone")
	// ErrOrphaned is returned by RunWorker of a local worker that ran on
	// without a coordinator for OrphanAfter and nobody adopted it: it exits
	// (what it did since the newest checkpoint is lost; the next `cluster
	// up` restores that checkpoint). RunJoinedWorker of a worker that
	// joined through NATS joins again, empty, on it.
	ErrOrphaned = errors.New("cluster: no coordinator adopted this worker in time")
)

// RunWorker runs one worker until the coordinator stops it (nil), asks it
// to rejoin (ErrRejoin), goes away (ErrCoordinatorLost) or ctx ends. When
// ctx ends while it runs, the worker leaves the cluster first: the
// coordinator hands its tasklets to the other workers (no rollback), and
// RunWorker returns nil once that is done.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	cfg.defaults()
	return runWorker(ctx, cfg, nil)
}

// defaults fills in the registry and the logger.
func (cfg *WorkerConfig) defaults() {
	if cfg.Registry == nil {
		cfg.Registry = pickle.Default
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.Effects == nil {
		cfg.Effects = defaultEffects
	}
}

// runWorker is RunWorker; up is called once the worker has joined.
func runWorker(ctx context.Context, cfg WorkerConfig, up func()) error {
	if cfg.Secret == nil {
		if cfg.Dir == "" {
			return errors.New("cluster: worker: no secret and no cluster directory to read DIR/secret from: give --secret FILE (a copy of the cluster's DIR/secret)")
		}
		s, err := ipc.LoadSecret(dirLayout{cfg.Dir}.Secret())
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cluster: worker: %w: no cluster was ever started in %s (`cluster up --data DIR` makes the secret and starts its own workers); check --cluster", err, cfg.Dir)
		}
		if err != nil {
			return fmt.Errorf("cluster: worker: %w", notYours(cfg.Dir, dirLayout{cfg.Dir}.Secret(), err))
		}
		cfg.Secret = s
	}
	if cfg.Join == "" && cfg.Dir == "" && cfg.NATS == "" {
		return errors.New("cluster: worker: give the cluster directory (--cluster DIR), the coordinator's address (--join HOST:PORT) or the cluster's NATS servers (--nats URL --creds FILE)")
	}
	if err := ValidateName(cfg.Name); err != nil {
		return fmt.Errorf("cluster: worker: %w", err)
	}
	if !cfg.remote() {
		ignoreBrokenPipe() // it outlives a coordinator that reads its output
	}
	w, err := startWorker(ctx, cfg)
	if err != nil {
		return err
	}
	defer w.close()
	if up != nil {
		up()
	}
	// The loop outlives ctx: a worker asked to stop leaves the cluster
	// first, and serves the coordinator while it takes the worker's state.
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopLeave := context.AfterFunc(ctx, w.leave)
	defer stopLeave()
	return w.loop(loopCtx)
}

// worker is one running worker: a scheduler, its ipc node, and the loop
// that runs the scheduler in slices and serves the coordinator's requests
// between them.
type worker struct {
	cfg    WorkerConfig
	reg    *pickle.Registry
	log    *slog.Logger
	node   uint16
	hosts  []uint16
	s      *scheduler.Scheduler
	n      *ipc.Node
	marker channel.ID
	blobs  blobs
	hold   func()
	host   string // the machine's name, for status
	hostID string // the host its unix socket is valid on (see peerAddr)

	nc      *nats.Conn   // to the cluster's NATS servers, for the journal (nil: none)
	journal *natsJournal // the cluster's effect journal (nil: off)

	reqs chan *request

	fence fence // the newest leader epoch obeyed: older ones are refused (fence.go)

	interrupt atomic.Bool // ends the running slice at the next step boundary

	orphanAfter time.Duration     // from the join: how long to run on without a coordinator
	integrated  atomic.Bool       // resumed at least once: links and routes are in place
	routeMu     sync.Mutex        // guards routeTable
	routeTable  map[uint16]uint16 // the last routing table the coordinator gave
	record      string            // its record in DIR/run ("" for a TCP worker)
	recordFile  os.FileInfo       // that file as written, so that only it is removed
	nats        *workerNATS       // its NATS connection (nil: a --join worker without NATS)
	memberID    string            // its key in the members bucket
	member      *registration     // its entry there, renewed until it stops
	ready       readyReq          // how it announced itself: where peers reach it

	mu      sync.Mutex
	cancel  context.CancelFunc // interrupts the running slice (also while it idles)
	stopErr error              // set when the loop must end
	stopped bool

	heldMu sync.Mutex
	held   *heldWorld // pickled for a checkpoint, to be stored once the workers run again

	statMu  sync.Mutex
	stats   WorkerStats
	runSum  float64
	runN    int
	statAt  time.Time
	handler context.Context // bounds handlers; ends when the worker closes
	endCtx  context.CancelFunc

	// Loop goroutine only.
	paused  bool
	marks   map[uint64]bool // markers taken from the marker channel: epoch|round|from
	waiters map[tasklet.ID][]chan struct{}
	heapAt  time.Time
	epoch   uint16 // the newest checkpoint epoch seen
}

// request is work for the loop goroutine, between two slices.
type request struct {
	fn   func() (any, error)
	done chan result
}

type result struct {
	v   any
	err error
}

// stop makes the loop end with err (nil: a clean stop).
func (w *worker) stop(err error) {
	w.mu.Lock()
	if !w.stopped {
		w.stopped, w.stopErr = true, err
	}
	cancel := w.cancel
	w.mu.Unlock()
	w.interrupt.Store(true)
	if cancel != nil {
		cancel()
	}
	select {
	case w.reqs <- &request{fn: func() (any, error) { return nil, nil }, done: make(chan result, 1)}:
	default:
	}
}

func (w *worker) close() {
	w.endCtx()
	if w.member != nil {
		w.member.remove()
	}
	if w.nats != nil {
		w.nats.close()
	}
	if w.n != nil {
		w.n.Close()
	}
	if w.journal != nil {
		w.journal.Close()
	}
	if w.nc != nil {
		w.nc.Close()
	}
	if w.record != "" {
		// Only its own: a worker stopped (SIGSTOP) and replaced while it
		// was, once resumed and ended, removed its replacement's record.
		if fi, err := os.Lstat(w.record); err == nil && os.SameFile(fi, w.recordFile) {
			_ = os.Remove(w.record)
		}
	}
	if w.hold != nil {
		w.hold()
	}
}

// errPreempted ends a slice early: a request waits.
var errPreempted = errors.New("cluster: slice preempted")

// preempt runs between every two steps (scheduler.WithCheckpoint with a
// period of one step) and ends the slice when a request waits, so the
// worker answers at the next step boundary however long its slices are.
func (w *worker) preempt(*scheduler.Scheduler) error {
	if w.interrupt.Load() {
		return errPreempted
	}
	return nil
}

func (w *worker) taskletFailed(err error) {
	var te *scheduler.TaskletError
	if errors.As(err, &te) { // the log's own keys, not the error's text, say which tasklet
		cause := te.Err
		if cause == nil { // a panic: the whole error says it
			cause = err
		}
		w.log.Warn("cluster: tasklet failed", "tasklet", te.ID.String(), "kind", te.Kind, "step", te.Step, "err", cause)
		return
	}
	w.log.Warn("cluster: tasklet failed", "err", err)
}
