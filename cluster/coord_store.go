package cluster

// The coordinator's side of the checkpoint store: the embedded NATS
// server it runs, and the generations it saves and loads through it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/store"
)

// legacyDB is the bbolt file earlier versions kept checkpoints in.
const legacyDB = "cluster.db"

// openStore starts the embedded NATS server (loopback, authenticated) and
// opens the checkpoint buckets on it.
func (c *Coordinator) openStore(ctx context.Context) error {
	if c.cfg.NATS != "" {
		return c.openOutsideStore(ctx)
	}
	e, err := startNATS(c.layout, true)
	stoodBy := false
	if errors.Is(err, ErrNATSLocked) && c.cfg.Standby {
		e, err = c.standBy(ctx)
		stoodBy = true
	}
	if errors.Is(err, ErrNATSLocked) {
		return fmt.Errorf("cluster: %w: another coordinator (or a `stackless checkpoint`/`inspect` command) runs on %s; stop it with `stackless cluster down --cluster %s`, or wait for the command to end",
			err, c.cfg.Dir, shquote.Quote(c.cfg.Dir))
	}
	if err != nil {
		return err
	}
	nc, err := e.connect("stackless coordinator")
	if err != nil {
		e.close()
		return err
	}
	gs, err := openNamedGenStore(ctx, nc, bucketNames(c.cfg.Name), c.cfg.Keep, "the NATS store of "+c.cfg.Dir)
	if err != nil {
		nc.Close()
		e.close()
		return err
	}
	gs.damage, gs.lag = e.notes.damage, 0 // one server: no replica lags behind
	c.nats, c.gs = e, gs
	journal := "[" + kvStream(gs.names.Journal) + "]"
	for _, line := range e.notes.damage() {
		if strings.Contains(line, journal) && strings.Contains(line, "corrupt") {
			c.log.Error("cluster: the effect journal's file is damaged: the NATS server dropped records of it, so calls whose results it held may run again (with the same key)",
				"dir", c.layout.NATS(), "nats", line)
			continue
		}
		c.log.Warn("cluster: the embedded NATS server reported on its files as it started (it drops a damaged or torn record)", "dir", c.layout.NATS(), "nats", line)
	}
	kv, err := openLease(ctx, gs.js, gs.names.Lease, gs.replicas)
	if err != nil {
		return err
	}
	c.lease = newLease(kv)
	// This process owns the store the previous leader's server ran on, so
	// that leader is gone: take its lease without waiting for it to go stale.
	if err := c.lease.acquire(ctx, true, stoodBy, nil); err != nil {
		return err
	}
	if err := c.leading(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, legacyDB)); err == nil {
		c.log.Warn("cluster: this version keeps checkpoints in NATS JetStream (DIR/nats); the bbolt file of earlier versions is not read",
			"file", filepath.Join(c.cfg.Dir, legacyDB))
	}
	return nil
}

// openOutsideStore connects to the NATS servers of Config.NATS and takes
// the lease there, standing by (Config.Standby) while another leads.
func (c *Coordinator) openOutsideStore(ctx context.Context) error {
	nc, err := connectOutside(c.cfg.NATS, c.cfg.NATSCreds, "stackless coordinator")
	if err != nil {
		return err
	}
	gs, err := openNamedGenStore(ctx, nc, bucketNames(c.cfg.Name), c.cfg.Keep, natsWhere(c.cfg.NATS, c.cfg.Name))
	if err != nil {
		nc.Close()
		return err
	}
	c.gs = gs
	kv, err := openLease(ctx, gs.js, gs.names.Lease, gs.replicas)
	if err != nil {
		return err
	}
	c.lease = newLease(kv)
	var waiting func(Leader)
	if c.cfg.Standby {
		waiting = func(ld Leader) {
			c.log.Info("cluster: standing by: another coordinator leads", "leader", ld.Holder, "epoch", ld.Epoch)
			if c.cfg.OnStandby != nil {
				c.cfg.OnStandby(ld)
			}
		}
	} else {
		if cur, rev, err := currentLeader(ctx, kv); err == nil && cur != nil && !cur.Down {
			// Not a standby: fail rather than wait, unless the lease is stale.
			if err := c.lease.takeStale(ctx, rev); err != nil {
				return fmt.Errorf("cluster: %s (since %s, epoch %d) leads this cluster on %s; run this one as its standby (`stackless cluster up` does) or stop it first: %w",
					cur.Holder, cur.Since.Format(time.RFC3339), cur.Epoch, c.cfg.NATS, err)
			}
			return c.leading()
		}
	}
	if err := c.lease.acquire(ctx, false, false, waiting); err != nil {
		return err
	}
	return c.leading()
}

// leading starts renewing a lease just taken.
func (c *Coordinator) leading() error {
	c.epochV.Store(c.lease.me.Epoch)
	c.log.Info("cluster: leading", "epoch", c.lease.me.Epoch, "holder", c.lease.me.Holder)
	c.bg.Add(1)
	go c.renewLease()
	return nil
}

// standbyLook bounds a standby's look at who leads before it waits.
var standbyLook = 10 * time.Second

// standBy waits while another coordinator's server owns the store (it
// leads), and starts this one's once it is gone.
func (c *Coordinator) standBy(ctx context.Context) (*embeddedNATS, error) {
	if c.cfg.OnStandby != nil {
		// Who leads is only told, never waited for: the reads go in
		// bounded attempts (a lookup a server drops is never answered) and
		// all of them within standbyLook, so a leader that dies meanwhile
		// does not keep this one from taking over.
		ld := Leader{}
		if nc, err := dialNATS(c.layout, "stackless standby"); err == nil {
			lctx, cancel := context.WithTimeout(ctx, standbyLook)
			if js, err := jetstream.New(nc); err == nil {
				bucket := bucketNames(c.cfg.Name).Lease
				kv, err := withAttempt(lctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValue, error) { return js.KeyValue(ctx, bucket) })
				if err == nil {
					if cur, _, err := currentLeader(lctx, kv); err == nil && cur != nil {
						ld = *cur
					}
				}
			}
			cancel()
			nc.Close()
		}
		c.cfg.OnStandby(ld)
	}
	c.log.Info("cluster: standing by: another coordinator leads this cluster", "dir", c.cfg.Dir)
	tk := time.NewTicker(leasePoll)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: stood by, never led: %w", ctx.Err())
		case <-tk.C:
		}
		e, err := startNATS(c.layout, true)
		if !errors.Is(err, ErrNATSLocked) {
			return e, err
		}
	}
}

// renewLease keeps the lease; when another coordinator took it, this one
// stops acting at once (depose), leaving the workers to the new leader.
func (c *Coordinator) renewLease() {
	defer c.bg.Done()
	tk := time.NewTicker(leaseRenew)
	defer tk.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
		// A renewal in flight when the connection drops is made again at
		// once on the new one (natsdrop.go): waiting for its bound would
		// leave the lease unrenewed for leaseTTL, and a standby take it.
		var err error
		for range 3 {
			ctx, stop := attemptContext(c.ctx, leaseTTL)
			err = c.lease.renew(ctx)
			dropped := droppedIn(ctx)
			stop()
			if !dropped || err == nil {
				break
			}
		}
		if errors.Is(err, ErrLeaseLost) {
			go c.depose(err)
			return
		}
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("cluster: could not renew the leadership lease; trying again", "err", err)
		}
	}
}

// depose shuts this coordinator down without touching the workers (the
// new leader drives them) and without a checkpoint.
func (c *Coordinator) depose(why error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.state = "deposed: " + why.Error()
	c.mu.Unlock()
	c.log.Error("cluster: THIS COORDINATOR NO LONGER LEADS; it stops without touching the workers", "err", why)
	c.cancel()
	_ = c.n.Close()
	c.bg.Wait()
	c.closeStore()
	_ = removeStaleSocket(c.layout.Coordinator()) // not the new leader's
	c.mu.Lock()
	c.closeErr = why
	c.mu.Unlock()
	close(c.done)
}

// closeStore closes the connection and stops the server.
func (c *Coordinator) closeStore() {
	if c.gs != nil {
		c.gs.close()
	}
	if c.nats != nil {
		c.nats.close()
	}
}

// commit commits generation m.Gen, whose every world is stored, and
// applies the retention.
func (c *Coordinator) commit(ctx context.Context, m *manifest) error {
	if err := c.gs.commit(ctx, m); err != nil {
		return err
	}
	if err := c.gs.retainAfter(ctx, m.Gen); err != nil {
		c.log.Warn("cluster: old checkpoints could not all be deleted; they are deleted at a later checkpoint", "err", err)
	}
	return nil
}

// load reads generation gen (not 0).
func (c *Coordinator) load(ctx context.Context, gen uint64) (*clusterSnapshot, error) {
	return c.gs.load(ctx, gen)
}

// loadNewest reads the newest generation that loads, passing over (and
// logging) damaged newer ones. store.ErrEmpty: none stored.
func (c *Coordinator) loadNewest(ctx context.Context) (*clusterSnapshot, error) {
	s, err := c.gs.loadNewest(ctx, func(gen uint64, why error) {
		c.log.Error("cluster: a stored generation cannot be loaded; using the one before it", "generation", gen, "err", why)
	})
	if err == nil || errors.Is(err, store.ErrEmpty) {
		return s, err
	}
	return nil, fmt.Errorf("%w; `stackless checkpoint ls %s` lists them and `stackless checkpoint rm %s GEN` deletes one; to start an empty cluster instead, run `stackless cluster up --fresh`",
		err, shquote.Quote(c.cfg.Dir), shquote.Quote(c.cfg.Dir))
}
