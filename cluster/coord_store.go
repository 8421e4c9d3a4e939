package cluster

// The coordinator's side of the checkpoint store: the embedded NATS
// server it runs, and the generations it saves and loads through it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stackless-go/stackless/store"
)

// legacyDB is the bbolt file earlier versions kept checkpoints in.
const legacyDB = "cluster.db"

// openStore starts the embedded NATS server (loopback, authenticated) and
// opens the checkpoint buckets on it.
func (c *Coordinator) openStore(ctx context.Context) error {
	e, err := startNATS(c.layout, true)
	if errors.Is(err, ErrNATSLocked) {
		return fmt.Errorf("cluster: %w: another coordinator (or a `stackless checkpoint`/`inspect` command) runs on %s; stop it with `stackless cluster down --cluster %s`, or wait for the command to end",
			err, c.cfg.Dir, c.cfg.Dir)
	}
	if err != nil {
		return err
	}
	nc, err := e.connect("stackless coordinator")
	if err != nil {
		e.close()
		return err
	}
	gs, err := openGenStore(ctx, nc, c.cfg.Keep, "the NATS store of "+c.cfg.Dir)
	if err != nil {
		nc.Close()
		e.close()
		return err
	}
	c.nats, c.gs = e, gs
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, legacyDB)); err == nil {
		c.log.Warn("cluster: this version keeps checkpoints in NATS JetStream (DIR/nats); the bbolt file of earlier versions is not read",
			"file", filepath.Join(c.cfg.Dir, legacyDB))
	}
	return nil
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

// save stores snap as a new generation.
func (c *Coordinator) save(ctx context.Context, snap *clusterSnapshot) (uint64, error) {
	gen, err := c.gs.save(ctx, snap)
	if errors.Is(err, errRetention) {
		c.log.Warn("cluster: old checkpoints could not all be deleted; they are deleted at a later checkpoint", "err", err)
		return gen, nil
	}
	return gen, err
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
		err, c.cfg.Dir, c.cfg.Dir)
}
