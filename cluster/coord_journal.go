package cluster

// The coordinator's side of the effect journal (journal.go): it makes the
// bucket before any worker starts, tells the workers to journal (the join
// answer), empties the bucket when the cluster starts without a
// checkpoint, and trims it after every checkpoint it commits.

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// openJournal makes the journal bucket on the checkpoint store's server,
// unless Config.NoJournal.
func (c *Coordinator) openJournal(ctx context.Context) error {
	if c.cfg.NoJournal {
		return nil
	}
	bucket := c.gs.names.Journal
	kv, err := createJournal(ctx, c.gs.js, bucket, c.gs.replicas, c.cfg.JournalBytes)
	if err != nil {
		return err
	}
	st, err := untilAnswered(ctx, func(ctx context.Context) (jetstream.Stream, error) { return c.gs.js.Stream(ctx, kvStream(bucket)) })
	if err != nil {
		return fmt.Errorf("cluster: the effect journal's stream %s on %s: %w", kvStream(bucket), c.gs.where, err)
	}
	c.journal = &journalTrimmer{kv: kv, stream: st, subj: kvSubject(bucket), reg: c.reg}
	return nil
}

// forgetJournal empties the journal of a cluster that starts afresh.
func (c *Coordinator) forgetJournal(ctx context.Context) error {
	if c.journal == nil {
		return nil
	}
	if err := c.journal.forget(ctx); err != nil {
		return fmt.Errorf("cluster: empty the effect journal of an earlier run (bucket %s on %s): %w", c.gs.names.Journal, c.gs.where, err)
	}
	return nil
}

// trimJournal trims the journal in the background after a checkpoint, by
// the oldest generation kept; a trim still running makes this one a no-op
// (the next checkpoint trims what is left).
func (c *Coordinator) trimJournal() {
	if c.journal == nil || !c.trimming.CompareAndSwap(false, true) {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.trimming.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, 4*jsOpTimeout)
		defer cancel()
		gens, err := c.gs.gens(ctx)
		if err != nil || len(gens) == 0 {
			return
		}
		deleted, kept, err := c.journal.trim(ctx, gens[0], c.gs.load)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("cluster: the effect journal was not trimmed; the next checkpoint tries again", "oldest_generation", gens[0], "err", err)
			}
			return
		}
		c.log.Info("cluster: effect journal trimmed", "oldest_generation", gens[0], "deleted", deleted, "kept", kept)
	}()
}

// JournalLen is the number of entries in the cluster's effect journal
// (0 with the journal off).
func (c *Coordinator) JournalLen(ctx context.Context) (int, error) {
	if c.journal == nil {
		return 0, nil
	}
	st, err := withAttempt(ctx, jsAttempt, func(ctx context.Context) (jetstream.KeyValueStatus, error) { return c.journal.kv.Status(ctx) })
	if err != nil {
		return 0, fmt.Errorf("cluster: the effect journal bucket %s: %w", c.gs.names.Journal, err)
	}
	return int(st.Values()), nil
}
