package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// DialConfig says how to reach a coordinator: through the unix socket of
// its cluster directory (Dir), over TCP with mutual TLS (Addr, TLS), or
// through NATS (NATS, NATSCreds, Name), whichever coordinator leads.
type DialConfig struct {
	Dir    string
	Addr   string
	TLS    *tls.Config
	Secret []byte // default: read DIR/secret
	Log    *slog.Logger

	// NATS, when set, is the NATS servers ("nats://h1:4222,nats://h2:4222")
	// the cluster named Name (default DefaultName) keeps its lease on; the
	// requests go to its leader there (natsapi.go), with the credentials
	// file NATSCreds. Dir, Addr, TLS and Secret are then not used.
	NATS      string
	NATSCreds string
	Name      string
}

// Client is a connection to a coordinator, for the CLI and for programs
// that drive a cluster from outside: an ipc node with a short-lived number
// of its own and no tasklets, or a NATS connection to the cluster's leader.
type Client struct {
	n    *ipc.Node
	nats *natsCaller
	dir  string // the cluster's folder, when dialed through it
}

const kindHello = "c.hello"

// Dial links to the coordinator.
func Dial(ctx context.Context, cfg DialConfig) (*Client, error) {
	if cfg.NATS != "" {
		return dialOverNATS(ctx, cfg)
	}
	if cfg.Secret == nil {
		if cfg.Dir == "" {
			return nil, errors.New("cluster: no cluster secret: give the cluster directory (--cluster DIR) or the secret file (--secret FILE)")
		}
		s, err := ipc.LoadSecret(dirLayout{cfg.Dir}.Secret())
		if err != nil {
			if nerr := notYours(cfg.Dir, dirLayout{cfg.Dir}.Secret(), err); nerr != err {
				return nil, fmt.Errorf("cluster: %w", nerr)
			}
			return nil, fmt.Errorf("cluster: %w (is a cluster running on %s?)", err, cfg.Dir)
		}
		cfg.Secret = s
	}
	network, addr := "unix", dirLayout{cfg.Dir}.Coordinator()
	if cfg.Addr != "" {
		network, addr = "tcp", cfg.Addr
	} else if cfg.Dir == "" {
		return nil, errors.New("cluster: give the cluster directory (--cluster DIR) or the coordinator's address (--addr HOST:PORT)")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []ipc.Option{ipc.WithSecret(cfg.Secret), ipc.WithLogger(log), ipc.WithKeepalive(0, 0)}
	if cfg.TLS != nil {
		opts = append(opts, ipc.WithTLS(cfg.TLS))
	}
	var last error
	for range 3 { // another client may hold the same random number
		n := ipc.NewNode(scheduler.New(scheduler.WithNode(clientNode())), pickle.NewRegistry(), opts...)
		peer, err := n.Dial(ctx, network, addr)
		if err == nil && peer != coordNode {
			n.Close()
			return nil, fmt.Errorf("cluster: %s %s is node %d, not a coordinator", network, addr, peer)
		}
		if err == nil {
			err = call(ctx, n, coordNode, kindHello, none{}, nil)
		}
		if err == nil {
			c := &Client{n: n}
			if network == "unix" {
				c.dir = cfg.Dir
			}
			return c, nil
		}
		n.Close()
		last = err
		if ctx.Err() != nil || !(errors.Is(err, ipc.ErrLinkDown) || errors.Is(err, ipc.ErrNoRoute)) {
			break
		}
	}
	if why, ok := noAnswer(ctx, last); ok {
		return nil, fmt.Errorf("cluster: the coordinator at %s took the connection but did not answer in time: its process is stopped, hung or overloaded (a stopped one goes on with `kill -CONT PID`); try again, or with a longer --timeout (%w)",
			addr, why)
	}
	if strings.Contains(last.Error(), addr) { // a dial error names it already
		return nil, fmt.Errorf("cluster: reach the coordinator: %w", last)
	}
	return nil, fmt.Errorf("cluster: reach the coordinator at %s: %w", addr, last)
}

// Close ends the connection.
func (c *Client) Close() error {
	if c.nats != nil {
		c.nats.nc.Close()
		return nil
	}
	return c.n.Close()
}

func (c *Client) do(ctx context.Context, kind string, req, resp any) error {
	if c.nats != nil {
		return call(ctx, c.nats, coordNode, kind, req, resp)
	}
	err := call(ctx, c.n, coordNode, kind, req, resp)
	if errors.Is(err, ipc.ErrLinkDown) {
		// The request may have reached the coordinator: a spawn cut this
		// way had started 100,000 of 200,000 tasklets.
		return fmt.Errorf("cluster: the link to the coordinator went down before it answered %s (the coordinator stopped or died): "+
			"the command may have been done in part, in whole or not at all; once a coordinator is up again (`stackless cluster up` on the same --data adopts the running workers), "+
			"check with `stackless cluster ps` and `stackless cluster status` before giving it again: %w", kind, err)
	}
	return err
}

// Status implements API.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.do(ctx, kindStatus, none{}, &st)
}

// Spawn implements API.
func (c *Client) Spawn(ctx context.Context, req SpawnRequest) (SpawnResult, error) {
	var res SpawnResult
	r := spawnReq{Kind: req.Kind, Args: req.Args, Count: req.Count, Worker: req.Worker, Place: req.Place}
	return res, c.do(ctx, kindSpawn, r, &res)
}

// PS implements API, a page at a time.
func (c *Client) PS(ctx context.Context) ([]TaskletView, error) {
	return listAll(ctx, c.List, ListQuery{})
}

// List implements API.
func (c *Client) List(ctx context.Context, q ListQuery) (TaskletList, error) {
	var out TaskletList
	if err := q.check(); err != nil { // said here, where the caller's mistake is
		return out, err
	}
	return out, c.do(ctx, kindList, q, &out)
}

// Inspect implements API.
func (c *Client) Inspect(ctx context.Context, id tasklet.ID) (TaskletView, error) {
	var v TaskletView
	return v, c.do(ctx, kindInspect, idReq{ID: id}, &v)
}

// Migrate implements API.
func (c *Client) Migrate(ctx context.Context, id tasklet.ID, to uint16) (MigrateResult, error) {
	var res MigrateResult
	return res, c.do(ctx, kindMigrate, migrateReq{ID: id, To: to}, &res)
}

// Throw implements API.
func (c *Client) Throw(ctx context.Context, id tasklet.ID, message string) (ThrowResult, error) {
	var res ThrowResult
	return res, c.do(ctx, kindThrow, throwReq{ID: id, Message: message}, &res)
}

// Kill implements API.
func (c *Client) Kill(ctx context.Context, id tasklet.ID) (KillResult, error) {
	var res KillResult
	return res, c.do(ctx, kindKill, idReq{ID: id}, &res)
}

// Checkpoint implements API.
func (c *Client) Checkpoint(ctx context.Context) (CheckpointResult, error) {
	var res CheckpointResult
	return res, c.do(ctx, kindCheckpoint, none{}, &res)
}

// Restore implements API.
func (c *Client) Restore(ctx context.Context, gen uint64, workers int) (RestoreResult, error) {
	var res RestoreResult
	return res, c.do(ctx, kindRestore, restoreReq{Gen: gen, Workers: workers}, &res)
}

// noAnswer tells a dial that failed because the coordinator's socket took
// the connection and then nothing answered, within the caller's time or
// the handshake's (seen with the coordinator stopped by SIGSTOP), from a
// wrong secret: ipc reports both as ErrAuth. It returns the deadline to
// wrap.
func noAnswer(ctx context.Context, err error) (error, bool) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && (errors.Is(err, ipc.ErrAuth) || errors.Is(err, context.DeadlineExceeded)):
		return ctx.Err(), true
	case errors.Is(err, ipc.ErrAuth) && errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no HELLO within the handshake's time: %w", os.ErrDeadlineExceeded), true
	}
	return nil, false
}

// Down shuts the cluster down (final checkpoint, workers stopped) and
// waits until the coordinator has closed its end. When the final
// checkpoint was not stored the cluster is down all the same, and the
// error (ErrDownUnsaved) says what was lost and what to do.
func (c *Client) Down(ctx context.Context) error {
	var r downResp
	if err := c.do(ctx, kindDown, none{}, &r); err != nil {
		return err
	}
	if err := c.waitDown(ctx); err != nil {
		return err
	}
	if r.Final != "" {
		return fmt.Errorf("%w, but %s", ErrDownUnsaved, strings.TrimPrefix(r.Final, "cluster: "))
	}
	return nil
}

// ErrDownUnsaved is returned by Down when the cluster shut down but its
// final checkpoint was not stored.
var ErrDownUnsaved = errors.New("cluster: the cluster is down")

// waitDown waits for the coordinator to be gone.
func (c *Client) waitDown(ctx context.Context) error {
	if c.nats != nil {
		return c.nats.waitDown(ctx)
	}
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for slices.Contains(c.n.Peers(), coordNode) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: the coordinator did not shut down: %w", ctx.Err())
		case <-tk.C:
		}
	}
	// The link drops first; the lease and the embedded store go after. A
	// `cluster up` started as down returned found the lease still held,
	// stood by, and stopped with the cluster going down: `down && up` did
	// not start the cluster again. The store's lock goes last (and with
	// the process, should it die on the way).
	if c.dir == "" {
		return nil
	}
	lock := filepath.Join(dirLayout{c.dir}.NATS(), natsLockName)
	bound := time.NewTimer(downStoreWait)
	defer bound.Stop()
	for lockHeld(lock) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: the coordinator did not shut down: its store %s is still in use: %w", lock, ctx.Err())
		case <-bound.C:
			return nil
		case <-tk.C:
		}
	}
	return nil
}

// downStoreWait bounds how long Down waits for the coordinator's store to
// close once its link dropped.
const downStoreWait = 30 * time.Second

// Await waits until tasklet id pauses and returns it (see Coordinator.Await).
func (c *Client) Await(ctx context.Context, id tasklet.ID) (TaskletView, error) {
	for {
		var f found[TaskletView]
		if err := c.do(ctx, kindAwait, awaitReq{ID: id, Timeout: 5 * time.Second}, &f); err != nil {
			return TaskletView{}, err
		}
		if f.Found {
			return f.V, nil
		}
	}
}
