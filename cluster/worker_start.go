package cluster

// Starting a worker: asking the coordinator what to be, restoring the
// world, bringing the ipc node up and announcing it.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// reserveFor readies the heap for the world a worker restores from blob
// (scheduler.ReserveHeap): the decoded world and its records fault in huge
// pages. A million game entities (a 125 MB blob) loaded and restored in
// 1.5-2.0 s instead of 3.0-3.8. Small worlds, machines without huge pages
// and a reserve ReserveHeap refuses (more than half of what a memory limit
// leaves) restore as before.
func reserveFor(blob []byte) {
	if len(blob) < minReservedBlob {
		return
	}
	_, _ = scheduler.ReserveHeap(restoreBytesPerBlobByte * len(blob))
}

// restoreBytesPerBlobByte is the heap a restore takes per byte of its
// world's blob: measured, 876 MB at the peak for a 125 MB blob of entities
// that each have a channel.
const restoreBytesPerBlobByte = 7

// minReservedBlob is the smallest blob reserveFor acts on (a heap of about
// 64 MiB): below it a world restores in a fraction of a second anyway.
const minReservedBlob = 8 << 20

// clientNode picks a random node number for a short-lived connection to
// the coordinator (a CLI command, or a worker asking what to be).
func clientNode() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	span := uint16(0xFFFE - firstClient + 1)
	return firstClient + binary.BigEndian.Uint16(b[:])%span
}

// coordAddr is where the coordinator listens, for this worker's config.
func (cfg *WorkerConfig) coordAddr() (network, addr string) {
	if cfg.Join != "" {
		return "tcp", cfg.Join
	}
	return "unix", dirLayout{cfg.Dir}.Coordinator()
}

func (cfg *WorkerConfig) nodeOptions() []ipc.Option {
	opts := []ipc.Option{ipc.WithSecret(cfg.Secret), ipc.WithLogger(cfg.Log)}
	if cfg.TLS != nil {
		opts = append(opts, ipc.WithTLS(cfg.TLS))
	}
	return opts
}

// join asks the coordinator which node this worker is and which world it
// runs (an object of the checkpoint Object Store, which the worker then
// reads itself): over a short-lived link to the coordinator, or, for a
// worker started with NATS and no coordinator address, with a request
// over NATS that the leader answers.
func join(ctx context.Context, cfg *WorkerConfig, wn *workerNATS, memberID string) (joinResp, []byte, error) {
	var resp joinResp
	host, _ := os.Hostname()
	req := joinReq{Node: cfg.Node, Pid: os.Getpid(), Host: host}
	if cfg.joinsOverNATS() {
		req.Member = memberID
		if cfg.rejoin != nil { // claim the placement the restore reserved
			req.Node, req.Token = cfg.rejoin.Node, cfg.rejoin.Token
		}
		var err error
		if resp, err = joinNATS(ctx, wn, req); err != nil {
			return resp, nil, err
		}
	} else {
		// No logger: a failure is returned, and logged once, by the caller.
		cl, err := Dial(ctx, DialConfig{Dir: cfg.Dir, Addr: cfg.Join, TLS: cfg.TLS, Secret: cfg.Secret})
		if err != nil {
			return resp, nil, err // it names the coordinator already
		}
		err = cl.do(ctx, kindJoin, req, &resp)
		cl.Close()
		if err != nil {
			return resp, nil, fmt.Errorf("cluster: worker: join the coordinator: %w", err)
		}
	}
	if resp.Node == 0 || resp.Node > maxWorkerNode || !slices.Contains(resp.Hosts, resp.Node) {
		return resp, nil, fmt.Errorf("cluster: worker: the coordinator assigned node %d hosting %v, which is not a valid worker", resp.Node, resp.Hosts)
	}
	if req.Node != 0 && resp.Node != req.Node {
		return resp, nil, fmt.Errorf("cluster: worker: asked to be node %d but the coordinator says %d", req.Node, resp.Node)
	}
	if resp.NATS != "" && wn.cfg.NATS == "" {
		wn.cfg.NATS, wn.cfg.Creds = resp.NATS, resp.NATSCreds
	}
	wn.learnNames(resp)
	var world []byte
	if resp.World != nil {
		var err error
		if world, err = wn.getWorld(ctx, *resp.World); err != nil {
			return resp, nil, fmt.Errorf("cluster: worker %d: fetch its world: %w", resp.Node, err)
		}
	}
	return resp, world, nil
}

// joinNATS asks the leading coordinator for a node number over NATS.
func joinNATS(ctx context.Context, wn *workerNATS, req joinReq) (joinResp, error) {
	nc, _, err := wn.conn()
	if err != nil {
		return joinResp{}, err
	}
	b, err := marshal(req)
	if err != nil {
		return joinResp{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, joinWait+5*time.Second)
	defer cancel()
	subject := wn.bucketNames().Join
	msg, err := nc.RequestWithContext(rctx, subject, b)
	if errors.Is(err, nats.ErrNoResponders) {
		return joinResp{}, fmt.Errorf("cluster: worker: no coordinator of cluster %q leads on NATS %s (nobody answers %s; check --name): %w", wn.bucketNames().Name, wn.cfg.NATS, subject, err)
	}
	if err != nil {
		return joinResp{}, fmt.Errorf("cluster: worker: ask the leading coordinator on NATS %s for a node (%s): %w", wn.cfg.NATS, subject, err)
	}
	var reply joinReply
	if err := decodeJSON(msg.Data, &reply); err != nil {
		return joinResp{}, fmt.Errorf("cluster: worker: the answer to a join over NATS: %w", err)
	}
	if reply.Error != "" {
		return joinResp{}, fmt.Errorf("cluster: worker: join over NATS %s: %s", wn.cfg.NATS, reply.Error)
	}
	return reply.Resp, nil
}

// joinsOverNATS: a worker with NATS servers and neither a cluster folder
// nor a coordinator address joins through NATS.
func (cfg *WorkerConfig) joinsOverNATS() bool {
	return cfg.NATS != "" && cfg.Dir == "" && cfg.Join == ""
}

// remote: a worker with no cluster folder (joined with --join or over
// NATS) is on another machine; it listens on TCP only and joins again
// when the coordinator goes.
func (cfg *WorkerConfig) remote() bool { return cfg.Dir == "" }

// hasStore: the worker can reach the checkpoint Object Store (every local
// worker, and every worker given NATS servers).
func (cfg *WorkerConfig) hasStore() bool { return cfg.Dir != "" || cfg.NATS != "" }

// startWorker joins the cluster and brings the worker's node up: scheduler
// (restored from the assigned world), ipc node, listener for peers, link to
// the coordinator. It starts paused: the coordinator resumes it once the
// links and routes of the cluster are in place.
func startWorker(ctx context.Context, cfg WorkerConfig) (_ *worker, err error) {
	wn := &workerNATS{cfg: cfg, names: bucketNames(cfg.Name)}
	defer func() {
		if err != nil {
			wn.close()
		}
	}()
	memberID := randomHostID()
	jr, blob, err := join(ctx, &cfg, wn, memberID)
	if err != nil {
		return nil, err
	}
	cfg.NATS, cfg.Creds = wn.cfg.NATS, wn.cfg.Creds
	host, _ := os.Hostname()
	w := &worker{cfg: cfg, reg: cfg.Registry, log: cfg.Log.With("node", jr.Node), node: jr.Node, hosts: jr.Hosts,
		reqs: make(chan *request, 64), paused: true, marks: map[uint64]bool{}, waiters: map[tasklet.ID][]chan struct{}{}, host: host,
		memberID: memberID}
	if cfg.hasStore() {
		w.nats = wn
	}
	w.handler, w.endCtx = context.WithCancel(context.Background())
	w.orphanAfter = jr.OrphanAfter
	if w.orphanAfter <= 0 {
		w.orphanAfter = DefaultOrphanAfter
	}
	if jr.Journal {
		if w.cfg.NATS == "" && w.cfg.Join == "" { // a local worker: the coordinator's servers
			w.cfg.NATS, w.cfg.Creds = jr.NATS, jr.NATSCreds
		}
		if err := w.openJournal(ctx, jr.JournalBucket); err != nil {
			w.close()
			return nil, err
		}
	}
	fx := scheduler.EffectConfig{Workers: cfg.EffectWorkers, Context: w.handler}
	if w.journal != nil {
		fx.Journal = w.journal
	}
	opts := []scheduler.Option{scheduler.WithKindNames(w.reg.KindName), scheduler.WithErrorHandler(w.taskletFailed),
		scheduler.WithCheckpoint(1, 0, w.preempt), scheduler.WithPauseHook(w.pausedNow),
		// Calls end with the worker; a restored world's pending calls are
		// issued again, answered from the journal when it holds their result.
		scheduler.WithEffects(cfg.Effects, fx)}
	if blob == nil {
		w.s = scheduler.New(append(opts, scheduler.WithNode(jr.Node), scheduler.WithClock(scheduler.NewRealClock(0)))...)
	} else {
		reserveFor(blob)
		world, err := w.reg.LoadWorld(blob)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("cluster: worker %d: load its world (%d bytes): %w", jr.Node, len(blob), err)
		}
		if world.Node != jr.Node {
			w.close()
			return nil, fmt.Errorf("cluster: worker %d: was given the world of node %d", jr.Node, world.Node)
		}
		if w.s, err = scheduler.Restore(world, append(opts, scheduler.WithClock(scheduler.NewRealClock(world.Clock)))...); err != nil {
			w.close()
			return nil, fmt.Errorf("cluster: worker %d: %w", jr.Node, err)
		}
	}
	w.hold = w.s.Hold() // input from peers may always come: idle is not a deadlock
	w.n = ipc.NewNode(w.s, w.reg, cfg.nodeOptions()...)
	if len(jr.Hosts) > 1 {
		w.s.SetRemote(newMergedRemote(w.n, w.s, jr.Hosts))
	}
	w.marker = w.s.NewChannel(1 << 16)
	w.stats = WorkerStats{Node: w.node, Hosts: w.hosts, Pid: os.Getpid(), Host: host, Paused: true,
		Tasklets: w.s.Len(), RunnableNow: w.s.RunCount(), Steps: w.s.Steps()}
	w.publish()
	if !cfg.remote() {
		if w.hostID, err = readHostID(cfg.Dir); err != nil {
			return nil, fmt.Errorf("cluster: worker %d: %w", jr.Node, err)
		}
	} else {
		w.hostID = randomHostID() // no cluster directory: reached over TCP only
	}
	w.serveAll()
	if err := w.up(ctx, jr.ListenTCP); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// noJournalOnce: a worker that joins again after each restore says once
// that it runs without a journal.
var noJournalOnce sync.Once

// openJournal connects the worker to the cluster's effect journal; a
// worker with no NATS server to reach runs without one and says so.
func (w *worker) openJournal(ctx context.Context, bucket string) error {
	if bucket == "" { // a coordinator of an earlier version
		bucket = journalBucket
	}
	nc, err := dialWorkerNATS(&w.cfg)
	if err != nil {
		return fmt.Errorf("cluster: worker %d: the effect journal: %w", w.node, err)
	}
	if nc == nil {
		noJournalOnce.Do(func() {
			w.log.Warn("cluster: this worker runs without the effect journal (no NATS server to reach): its effects are at-least-once; give `stackless worker` --nats URL --creds FILE to journal them")
		})
		return nil
	}
	j, err := openJournal(ctx, nc, bucket, w.reg, "NATS "+nc.ConnectedUrlRedacted())
	if err != nil {
		nc.Close()
		return fmt.Errorf("cluster: worker %d: %w", w.node, err)
	}
	w.nc, w.journal = nc, j
	return nil
}

// up listens for peers, links to the coordinator and says it is ready. A
// local worker listens on its unix socket, and on TCP too when the cluster
// does; a remote worker (--join, --nats) listens on TCP only. A worker
// with NATS registers in the members bucket; one that joined over NATS
// says it is ready there and waits for the leader to link to it.
func (w *worker) up(ctx context.Context, listenTCP string) error {
	rr := readyReq{Node: w.node, HostID: w.hostID, Marker: w.marker, Pid: os.Getpid(), Host: w.host, Store: w.nats != nil}
	if w.cfg.remote() {
		listenTCP = w.cfg.Listen
		if listenTCP == "" {
			listenTCP = ":0"
		}
	} else {
		addr := dirLayout{w.cfg.Dir}.Worker(w.node)
		if err := checkSockPath(addr); err != nil {
			return err
		}
		if err := w.n.Listen(w.handler, "unix", addr); err != nil {
			return fmt.Errorf("cluster: worker %d: %w", w.node, err)
		}
		rr.Unix = addr
	}
	if listenTCP != "" {
		if w.cfg.TLS == nil {
			return fmt.Errorf("cluster: worker %d: the cluster listens on TCP, so its workers must too, with TLS, but this worker has no TLS configuration: start `cluster up` with --tls DIR (a folder from `stackless cluster certs`)", w.node)
		}
		if err := w.n.Listen(w.handler, "tcp", listenTCP); err != nil {
			return fmt.Errorf("cluster: worker %d: %w", w.node, err)
		}
		var err error
		if rr.TCP, err = w.advertise(); err != nil {
			return err
		}
	}
	if w.cfg.joinsOverNATS() {
		if err := w.awaitLeader(ctx, rr); err != nil {
			return err
		}
	} else {
		cn, caddr := w.cfg.coordAddr()
		peer, err := w.n.Dial(ctx, cn, caddr)
		if err != nil {
			return fmt.Errorf("cluster: worker %d: link to the coordinator: %w", w.node, err)
		}
		if peer != coordNode {
			return fmt.Errorf("cluster: worker %d: %s is node %d, not the coordinator", w.node, caddr, peer)
		}
		if err := call(ctx, w.n, coordNode, kindReady, rr, nil); err != nil {
			return fmt.Errorf("cluster: worker %d: announce itself: %w", w.node, err)
		}
		if w.nats != nil {
			if err := w.register(ctx, rr); err != nil {
				return err
			}
		}
	}
	w.ready = rr
	if !w.cfg.remote() {
		if err := w.writeRecord("unix", rr.Unix); err != nil {
			return err
		}
	}
	go w.watchCoordinator()
	return nil
}

// advertise is the address peers dial to reach this worker over TCP.
func (w *worker) advertise() (string, error) {
	if w.cfg.Advertise != "" {
		return w.cfg.Advertise, nil
	}
	var port string
	for _, a := range w.n.Addrs() {
		if ta, ok := a.(*net.TCPAddr); ok {
			if !ta.IP.IsUnspecified() || !w.cfg.remote() {
				// A local worker shares the coordinator's host: ":PORT"
				// tells peers to dial the host they reach the coordinator at.
				return advertiseTCP(ta), nil
			}
			_, port, _ = net.SplitHostPort(ta.String())
		}
	}
	if port == "" {
		return "", fmt.Errorf("cluster: worker %d: no TCP listener to advertise", w.node)
	}
	// The local address of a route to the coordinator (or to the NATS
	// server) is one peers can reach (no packet is sent for a UDP "dial").
	target := w.cfg.Join
	if target == "" && w.nats != nil {
		if nc, _, err := w.nats.conn(); err == nil {
			target = nc.ConnectedAddr()
		}
	}
	c, err := net.Dial("udp", target)
	if err != nil {
		return "", fmt.Errorf("cluster: worker %d: find this host's address (give --advertise HOST:PORT): %w", w.node, err)
	}
	defer c.Close()
	host, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return net.JoinHostPort(host, port), nil
}

// coordHost is the host this worker reaches the coordinator at ("" over
// the unix socket): peers on the coordinator's host are dialed there.
func (w *worker) coordHost() string {
	if w.cfg.Join == "" {
		// Over NATS: a peer that gave ":PORT" is on the host of the NATS
		// server this worker reached (the coordinator's, when it embeds it).
		if w.cfg.joinsOverNATS() && w.nats != nil {
			if nc, _, err := w.nats.conn(); err == nil {
				if host, _, err := net.SplitHostPort(nc.ConnectedAddr()); err == nil {
					return host
				}
			}
		}
		return ""
	}
	host, _, err := net.SplitHostPort(w.cfg.Join)
	if err != nil {
		return ""
	}
	return host
}
