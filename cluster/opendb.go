package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/store"
)

// unusable reports whether err says the file at the database path cannot
// be used as this cluster's database at all: damaged, not a database, of
// another format version, or a database of something else. Such a file is
// never taken for "no checkpoint": the coordinator refuses it, and --fresh
// moves it aside.
func unusable(err error) bool {
	return errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotDatabase) ||
		errors.Is(err, store.ErrVersion) || errors.Is(err, ErrSnapshot)
}

// openDB opens DIR/cluster.db. A file that cannot be used is refused, with
// --fresh offered; with Fresh it is moved aside (kept under a timestamped
// name, and logged) and a new database started in its place.
func (c *Coordinator) openDB() (*store.DB, error) {
	path := c.layout.DB()
	open := func() (*store.DB, error) {
		return store.Open(path, store.WithTimeout(time.Second), store.WithKeep(c.cfg.Keep))
	}
	db, err := open()
	if err == nil && c.cfg.Fresh {
		// Fresh starts empty, but new checkpoints go into this file: it
		// must be whole, not only open.
		if _, lerr := loadSnapshot(db, 0); unusable(lerr) {
			_ = db.Close()
			db, err = nil, lerr
		}
	}
	if err != nil && c.cfg.Fresh && unusable(err) {
		to, merr := store.MoveAside(path)
		if merr != nil {
			return nil, fmt.Errorf("cluster: --fresh: cannot move %s aside: %w (it was refused because: %v)", path, merr, err)
		}
		c.log.Warn("cluster: --fresh: moved the unusable checkpoint database aside and started a new one; the old file is kept",
			"file", path, "moved_to", to, "reason", err.Error())
		db, err = open()
	}
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, store.ErrLocked):
		return nil, fmt.Errorf("cluster: %s is in use: another coordinator runs on %s (stop it with `stackless cluster down --cluster %s`): %w", path, c.cfg.Dir, c.cfg.Dir, err)
	case unusable(err):
		return nil, fmt.Errorf("cluster: %w; to start an empty cluster instead, run `stackless cluster up --fresh`, which moves %s aside (kept, not deleted)", err, path)
	}
	return nil, fmt.Errorf("cluster: %w", err)
}

// unreadable is the error for a newest generation that cannot be loaded:
// the ways out are the generation before it, and --fresh.
func (c *Coordinator) unreadable(err error) error {
	path := c.layout.DB()
	older := ""
	if gens, lerr := c.db.List(); lerr == nil && len(gens) > 1 {
		newest := gens[len(gens)-1].Gen
		older = fmt.Sprintf("to resume generation %d instead, delete the newest with `stackless checkpoint rm %s %d` (`stackless checkpoint ls %s` lists them); ",
			gens[len(gens)-2].Gen, path, newest, path)
	}
	return fmt.Errorf("%w; %sto start an empty cluster, run `stackless cluster up --fresh`, which moves %s aside (kept, not deleted)", err, older, path)
}
