package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// placement policies for spawned tasklets.
const (
	PlaceRoundRobin  = "round-robin"
	PlaceLeastLoaded = "least-loaded"
)

// Coordinator starts and watches the workers of a cluster, places and
// balances tasklets, takes consistent checkpoints and restores them.
type Coordinator struct {
	cfg    Config
	layout dirLayout
	reg    *pickle.Registry
	log    *slog.Logger
	s      *scheduler.Scheduler
	n      *ipc.Node
	fc     fencedCaller // c.n, every worker command carrying the lease epoch
	lease  *lease       // the leadership this coordinator holds
	epochV atomic.Uint64
	nats   *embeddedNATS      // the embedded NATS server the checkpoints live in
	gs     *genStore          // the checkpoint generations, in JetStream
	api    map[string]handler // the requests clients may send over NATS, by kind
	apiSrv *apiServer         // answers them on NATS while this coordinator leads
	// journal trims the effect journal (nil with Config.NoJournal).
	journal  *journalTrimmer
	trimming atomic.Bool
	hostID   string     // the host ID of this machine (DIR/host-id)
	kept     []keptFile // the folder's files workers and clients need (keepFiles)

	members jetstream.KeyValue // the workers registered in NATS (members.go)
	blobs   blobs
	start   time.Time

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the coordinator has shut down
	bg     sync.WaitGroup

	op sync.Mutex // one cluster-wide operation at a time: checkpoint, restore, spawn, migrate, kill, balance

	mu        sync.Mutex
	workers   map[uint16]*workerRef // by node, the current generation of workers
	expect    map[uint16]*expected  // placements waiting for their worker's join
	routes    map[uint16]uint16
	nextNode  uint16
	localN    int // local workers to restore onto after a fault
	lastGen   uint64
	lastAt    time.Time
	ckptStats ckptStats // the checkpoints this coordinator took, for status
	rr        int
	epoch     uint16
	rollbacks int
	left      int // workers that left the cluster cleanly
	migrated  int
	loads     map[uint16]workerLoad
	closing   bool
	closeErr  error
	state     string        // "" (running), "recovering: ..." or "down: ..." (see recovery.go)
	down      error         // why the cluster is down, once the rollbacks gave up
	adopted   int           // workers adopted from a coordinator that died (see adopt.go)
	note      string        // what the start did about workers left by a coordinator that died
	readyCh   chan struct{} // signalled at every worker that becomes ready
	bal       *balancer
}

// workerRef is the coordinator's view of one worker.
type workerRef struct {
	Node   uint16
	Hosts  []uint16
	Local  bool
	Proc   *proc
	HostID string // the host its unix socket is valid on
	Unix   string // its unix socket ("" for a worker that joined over TCP)
	TCP    string // its TCP address ("" when the cluster has no --listen)
	Marker channel.ID
	Pid    int
	Host   string
	Member string // its entry in the members bucket (a worker that joined over NATS)
	Dialed bool   // the coordinator is linking to it (from its entry), or has
	Store  bool   // it stores its own world at a checkpoint (it has a NATS connection)
	Ready  bool
	// Leaving: asked to leave; stopped, not told to join again.
	Leaving bool
	// Adopted: a worker a coordinator that died left running (no Proc:
	// watched by its link and pid, and stopped by its pid if started at
	// Start).
	Adopted bool
	Start   uint64
	// Foreign: a local worker of another folder's coordinator that died,
	// adopted from the members bucket (adopt_members.go): watched by its
	// link only, told to stop (it cannot join this coordinator again).
	Foreign bool
}

// expected is a placement waiting for the worker that will run it.
type expected struct {
	p     placement
	world *worldPart // the object it reads its world from (nil: empty)
	taken bool
	token string // kept for a remote worker that presents it (rejoin.go); "": a local worker
}

var (
	// ErrClosed is returned by a coordinator that has shut down.
	ErrClosed = errors.New("cluster: the coordinator is shut down")
	// ErrNoTasklet is returned for a tasklet no worker holds.
	ErrNoTasklet = errors.New("no worker holds this tasklet")
	// ErrDown is returned by Close (so `cluster up` exits non-zero) when
	// the cluster was down: its rollbacks failed until the retry limit.
	ErrDown = errors.New("cluster: the cluster was down")
)

// Start brings a cluster up: the coordinator's node listening on
// DIR/sock/c (and cfg.Listen), the checkpoint database, and cfg.Workers
// worker processes running either the newest stored checkpoint or an
// empty world each. It returns once every worker is linked and running.
func Start(ctx context.Context, cfg Config) (*Coordinator, error) {
	if cfg.Listen != "" && cfg.WorkerCommand == nil && len(cfg.tlsArgs) == 0 {
		return nil, errors.New("cluster: with Listen the local workers listen on TCP+TLS too: give the certificate folder with Config.SetTLSDir or the files with Config.SetTLSFiles (or a WorkerCommand that passes them)")
	}
	cfg.defaults()
	if cfg.Dir == "" {
		return nil, errors.New("cluster: no cluster directory (--data DIR)")
	}
	if err := ValidateName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Workers < 1 || cfg.Workers > maxWorkerNode {
		return nil, fmt.Errorf("cluster: %d workers: need 1 to %d", cfg.Workers, maxWorkerNode)
	}
	if err := checkDescriptors(cfg.Workers); err != nil {
		return nil, err
	}
	if limit, used := taskLimit(); limit > 0 {
		if err := checkTasks(cfg.Workers, limit, used); err != nil {
			return nil, err
		}
	}
	if !cfg.NoJournal && cfg.JournalBytes < MinJournalBytes {
		return nil, fmt.Errorf("cluster: an effect journal of %d bytes: it needs at least %d (one result may be a whole 1 MiB NATS message); give a larger Config.JournalBytes (--journal-bytes) or turn the journal off (--journal=false)", cfg.JournalBytes, MinJournalBytes)
	}
	if cfg.Listen != "" && cfg.TLS == nil {
		return nil, errors.New("cluster: listening on TCP needs mutual TLS (--tls DIR with certificates from `stackless cluster certs`)")
	}
	c := &Coordinator{cfg: cfg, layout: dirLayout{cfg.Dir}, reg: cfg.Registry, log: cfg.Log, start: time.Now(),
		done: make(chan struct{}), workers: map[uint16]*workerRef{}, expect: map[uint16]*expected{},
		routes: map[uint16]uint16{}, loads: map[uint16]workerLoad{}, localN: cfg.Workers, readyCh: make(chan struct{}, 1), bal: newBalancer(),
		state: stateStarting}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.open(ctx); err != nil {
		c.shutdown()
		return nil, err
	}
	if err := c.boot(ctx); err != nil {
		c.shutdown()
		return nil, err
	}
	if err := c.serveMembers(ctx); err != nil {
		c.shutdown()
		return nil, err
	}
	c.bg.Add(1)
	go c.monitor()
	return c, nil
}

// open prepares the directory, the secret, the database and the node.
func (c *Coordinator) open(ctx context.Context) error {
	if err := c.layout.prepare(); err != nil {
		return err
	}
	if err := c.layout.checkSockets(maxWorkerNode); err != nil {
		return err
	}
	secret, err := EnsureSecret(c.layout.Secret())
	if err != nil {
		return notYours(c.cfg.Dir, c.layout.Secret(), err)
	}
	hostID, err := ensureHostID(c.cfg.Dir)
	if err != nil {
		return err
	}
	c.hostID = hostID
	if err := c.openStore(ctx); err != nil {
		return err
	}
	if err := c.openJournal(ctx); err != nil {
		return err
	}
	c.s = scheduler.New(scheduler.WithNode(coordNode))
	opts := []ipc.Option{ipc.WithSecret(secret), ipc.WithLogger(c.log)}
	if c.cfg.TLS != nil {
		opts = append(opts, ipc.WithTLS(c.cfg.TLS))
	}
	c.n = ipc.NewNode(c.s, c.reg, opts...)
	c.fc = fencedCaller{n: c.n, epoch: c.epochV.Load}
	c.serveAll()
	c.apiSrv = &apiServer{nc: c.gs.nc, names: c.gs.names, lease: c.lease, handlers: c.api, blobs: &c.blobs, log: c.log, ctx: c.ctx}
	if err := c.apiSrv.start(); err != nil {
		return err
	}
	// The coordinator's scheduler runs no tasklet; it only applies what its
	// links hand it (link-down clean-ups).
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		release := c.s.Hold()
		defer release()
		_ = c.s.Run(c.ctx)
	}()
	if err := c.n.Listen(c.ctx, "unix", c.layout.Coordinator()); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if c.cfg.Listen != "" {
		if err := c.n.Listen(c.ctx, "tcp", c.cfg.Listen); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	c.kept = readKept(c.layout.Secret(), c.layout.HostID(), c.layout.NATSSeed(), c.layout.NATSURL())
	return nil
}

// EnsureSecret reads the cluster secret at path, creating it (0600) first
// if there is none.
func EnsureSecret(path string) ([]byte, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := ipc.GenerateSecret(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	s, err := ipc.LoadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return s, nil
}

// stateStarting is the state from the coordinator's making until boot is
// done: the API answers as soon as open listens, and a status read then
// said "running" with no worker while the workers were still being found
// or started.
const stateStarting = "starting: adopting the workers a coordinator that died left running, or restoring the newest checkpoint"

// boot adopts the workers a coordinator that died left running (adopt.go),
// or starts the first generation of workers: from the newest stored
// checkpoint, or empty ones (then checkpointed at once, so a fault always
// has a generation to roll back to).
func (c *Coordinator) boot(ctx context.Context) error {
	c.op.Lock()
	defer c.op.Unlock()
	defer c.setState("") // stateStarting until here
	if c.adoptOrphans(ctx) {
		// Workers a coordinator that died left running: no rollback, and
		// a store that does not answer now is no reason to drop them.
		lost, err := c.audit(ctx)
		if err != nil {
			c.log.Warn("cluster: the checkpoint store could not be audited after adopting the workers", "err", err)
		}
		c.goingOnWithout(lost)
		return nil
	}
	// Audited before anything starts: an empty cluster checkpointed over
	// a loss would look like a fresh one.
	lost, err := c.audit(ctx)
	if err != nil {
		return err
	}
	var snap *clusterSnapshot
	if !c.cfg.Fresh {
		s, err := c.loadNewest(ctx)
		switch {
		case err == nil:
			snap = s
		case errors.Is(err, store.ErrEmpty) && lost != nil:
			return fmt.Errorf("%w; cluster up will not start empty over them: put the store back from a backup if there is one, or run cluster up again with --fresh to start an empty cluster (the worlds left are then deleted)", lost)
		case errors.Is(err, store.ErrEmpty):
		default:
			return err
		}
	}
	c.goingOnWithout(lost)
	if snap == nil {
		if err := c.forgetJournal(ctx); err != nil {
			return err
		}
		snap = &clusterSnapshot{NextNode: 1}
		if _, err := c.restoreLocked(ctx, snap, c.cfg.Workers); err != nil {
			return err
		}
		_, err := c.checkpointLocked(ctx, true)
		return err
	}
	_, err = c.restoreLocked(ctx, snap, c.cfg.Workers)
	return err
}

// audit checks the store for generations lost (see genStore.audit) and
// raises the generation counter to the highest generation it still holds,
// so that new generations take numbers above it (a counter lost or behind
// would hand out numbers in use, and a generation would be written over an
// older one). lost, if not nil, wraps ErrLost and says what was lost.
func (c *Coordinator) audit(ctx context.Context) (lost, err error) {
	need, err := c.gs.audit(ctx)
	if err != nil && !errors.Is(err, ErrLost) {
		return nil, err
	}
	return err, c.gs.raiseCounter(ctx, need)
}

// goingOnWithout logs a loss the cluster goes on without.
func (c *Coordinator) goingOnWithout(lost error) {
	if lost != nil {
		c.log.Error("cluster: going on without the generations the checkpoint store lost", "err", lost)
	}
}

// Addr is the TCP address the coordinator listens on ("" without Listen).
func (c *Coordinator) Addr() string {
	for _, a := range c.n.Addrs() {
		if a.Network() == "tcp" {
			return a.String()
		}
	}
	return ""
}

// Dir is the cluster directory.
func (c *Coordinator) Dir() string { return c.cfg.Dir }

// Done is closed once the coordinator has shut down (Close, or `down`).
func (c *Coordinator) Done() <-chan struct{} { return c.done }

// Err is why the coordinator shut down, once Done is closed: nil after a
// clean shutdown.
func (c *Coordinator) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close takes a final consistent checkpoint, stops every worker, removes
// the sockets and closes the database. It is what Ctrl-C, SIGTERM and
// `stackless cluster down` do. Closing twice returns the first result.
func (c *Coordinator) Close() error {
	if !c.startClosing() {
		<-c.done
		return c.Err()
	}
	return c.finishClose(c.finalCheckpoint())
}

// startClosing marks the coordinator closing; false when it already was.
func (c *Coordinator) startClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	return true
}

// finalCheckpoint takes the checkpoint of a shutdown, leaving the workers
// paused (nothing runs after it), and says what a failure lost.
func (c *Coordinator) finalCheckpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.op.Lock()
	defer c.op.Unlock()
	if len(c.readyWorkers()) == 0 {
		return nil
	}
	if _, err := c.checkpointLocked(ctx, false); err != nil {
		return c.finalCheckpointFailed(err)
	}
	return nil
}

// finishClose stops the workers and the node after the final checkpoint
// (whose error is final).
func (c *Coordinator) finishClose(final error) error {
	errs := []error{final, c.shutdown()}
	if why := c.downErr(); why != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrDown, why))
	}
	err := errors.Join(errs...)
	c.mu.Lock()
	c.closeErr = err
	c.mu.Unlock()
	close(c.done)
	return err
}

// finalCheckpointFailed says what a failed final checkpoint lost (the
// work since the newest stored generation), that the stored generations
// are intact, and how to get back to the newest.
func (c *Coordinator) finalCheckpointFailed(err error) error {
	c.mu.Lock()
	gen := c.lastGen
	c.mu.Unlock()
	kept := "no generation is stored yet"
	if gen > 0 {
		kept = fmt.Sprintf("the stored generations are intact, the newest is %d", gen)
	}
	var fix string
	switch {
	case workerLost(err): // not the store: no space to free
		fix = fmt.Sprintf("a worker was gone at shutdown; run `stackless cluster up --data %s` (with the same --nats, if any) to resume the newest generation", shquote.Quote(c.cfg.Dir))
	case c.nats != nil && errors.Is(err, ErrStoreBroken):
		fix = fmt.Sprintf("free space on the disk of %s, then run `stackless cluster up --data %s` to resume the newest generation", c.layout.NATS(), shquote.Quote(c.cfg.Dir))
	case c.nats != nil:
		fix = fmt.Sprintf("check the disk of %s, then run `stackless cluster up --data %s` to resume the newest generation", c.layout.NATS(), shquote.Quote(c.cfg.Dir))
	default:
		fix = fmt.Sprintf("free space on the NATS servers %s (JetStream's store), then run `stackless cluster up` with the same --nats and --data %s to resume the newest generation", c.cfg.NATS, shquote.Quote(c.cfg.Dir))
	}
	return fmt.Errorf("cluster: final checkpoint not stored, the work since the last checkpoint is lost (%s); %s: %w", kept, fix, err)
}

// storeCheck is the embedded server's health check for watchStore (nil
// with NATS servers of one's own, whose health this process cannot ask): a
// store that broke (a full disk) fails operations at once, so a checkpoint
// or a shutdown does not wait out its deadline retrying.
func (c *Coordinator) storeCheck() func() error {
	e, dir := c.nats, c.layout.NATS()
	if e == nil {
		return nil
	}
	return func() error { return e.storeErr(dir) }
}

// shutdown stops workers, the node and the database (no checkpoint).
func (c *Coordinator) shutdown() error {
	var errs []error
	c.cancel()
	var broken error
	if c.nats != nil {
		broken = c.nats.storeErr(c.layout.NATS())
	}
	if c.n != nil {
		c.stopWorkers(false)
		if err := c.n.Close(); err != nil {
			errs = append(errs, err)
		}
		if closeFault != nil {
			closeFault()
		}
	}
	if broken != nil && c.gs != nil {
		// A store that cannot write answers none of the requests the
		// background work makes as it stops (a watcher deletes its
		// consumer, waiting 5 s for the answer): closing the connection
		// ends them at once. The lease cannot be written either.
		c.gs.close()
	}
	c.bg.Wait()
	if c.lease != nil && c.lease.me.Epoch != 0 && broken == nil {
		wctx, unwatch := watchStore(context.Background(), c.storeCheck())
		ctx, cancel := context.WithTimeout(wctx, 2*time.Second)
		c.lease.release(ctx) // a standby takes over at once
		cancel()
		unwatch()
	}
	c.closeStore()
	// Its node removed its own socket file as it closed; one left by a
	// crash goes too, but not a standby's, which may lead by now.
	_ = removeStaleSocket(c.layout.Coordinator())
	return errors.Join(errs...)
}

// closeFault, set by tests only, runs in shutdown once the links are
// closed: a shutdown slow to give up its lease and store.
var closeFault func()

// readyWorkers lists the ready workers by node.
func (c *Coordinator) readyWorkers() []*workerRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*workerRef
	for _, w := range c.workers {
		if w.Ready {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *workerRef) int { return int(a.Node) - int(b.Node) })
	return out
}

func (c *Coordinator) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}
