package store

import (
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/scheduler"
)

// A program that checkpoints runs many times on one DB, and each run must
// know which of three cases it is in: a fresh start, a resumed run, or a run
// that had already finished. The last used to pass for the second: a rerun
// of a finished program resumed a world with no tasklet left, ran nothing
// and said nothing. Resume now refuses a finished world with ErrFinished,
// and Restart starts over.
//
// Nothing checkpoints when Run returns: the newest checkpoint stays the last
// automatic one (or the last Checkpoint call), and whatever ran after it is
// run again by the next Resume. A program that wants the end state stored
// (the progress since the last checkpoint when ctx ended, or the finished
// world, so that a rerun gets ErrFinished) calls Checkpoint after Run.

var (
	// ErrFinished is returned by Resume when the newest checkpoint holds a
	// world with no tasklet left: the run it saved had finished.
	ErrFinished = errors.New("store: the newest checkpoint holds a finished world")
	// ErrCheckpointerClosed is returned by Checkpoint after Close.
	ErrCheckpointerClosed = errors.New("store: the checkpointer is closed")
)

// Resume returns the scheduler of the newest checkpoint, or, when the DB
// holds none, a new scheduler that init sets up (spawning the first
// tasklets). Resumed tells the two apart: the generation restored, 0 for a
// fresh start. When the newest checkpoint holds a finished world (no tasklet
// left), Resume returns an error wrapping ErrFinished instead: read what
// that run left with Restore(db, reg, ck.Resumed()), or start over with
// Restart.
//
// The scheduler tracks changes, names kinds from the registry, checks every
// value sent on a channel (a value of a type the registry does not know
// fails at the send, see pickle.Registry.CheckValue), and checkpoints itself
// as WithEvery and WithInterval say. It takes no checkpoint when Run
// returns: call Checkpoint then to store the end state.
//
// A damaged generation (an error wrapping ErrCorrupt: a checksum that does
// not match, a bad page) is passed over for the one before it, newest
// first, and Damaged says which were: a long task resumes from its last
// good checkpoint instead of not at all (its work since then runs again).
// The next checkpoint is then a full one, so that no generation is built
// on a damaged one. With a journal (WithJournal), which a checkpoint trims
// one generation late, passing over one damaged generation repeats no
// call: the journal still answers those made after the generation
// restored. Passing over more, the calls whose entries the passed-over
// generations trimmed are issued again, with their keys, as after a lost
// worker: an effect that must not run twice should be idempotent by its
// key.
func (c *Checkpointer) Resume(init func(*scheduler.Scheduler) error, opts ...scheduler.Option) (*scheduler.Scheduler, error) {
	gens, err := c.db.numbers()
	if err != nil {
		return nil, err
	}
	if len(gens) == 0 {
		return c.fresh(init, opts)
	}
	c.damaged = nil
	var s *scheduler.Scheduler
	var gen uint64
	for _, gen = range gens {
		s, err = Restore(c.db, c.reg, gen, c.options(opts)...)
		if err == nil || !errors.Is(err, ErrCorrupt) {
			break
		}
		c.damaged = append(c.damaged, err)
	}
	switch n := len(c.damaged); {
	case err == nil:
	case n == len(gens) && n > 1:
		return nil, fmt.Errorf("%w (none is: all %d generations of %s are damaged)", c.damaged[0], n, c.db.Path())
	case n > 0 && !errors.Is(err, ErrCorrupt):
		return nil, fmt.Errorf("%w (the %d newer generations are damaged, the newest: %v)", err, n, c.damaged[0])
	default:
		return nil, err
	}
	if len(c.damaged) > 0 {
		c.mu.Lock()
		c.forceFull = true
		c.mu.Unlock()
	}
	c.resumed = gen
	if s.Len() == 0 {
		return nil, fmt.Errorf("%w: generation %d of %s has no tasklet left, so there is nothing to resume; read what the run left with store.Restore(db, reg, %d), or start over with Checkpointer.Restart",
			ErrFinished, gen, c.db.Path(), gen)
	}
	return s, nil
}

// Restart starts over whatever the DB holds: a new scheduler that init sets
// up, as Resume does for an empty DB, checkpointed at once (in full), so
// that the stored run is no longer the newest and a crash from here on
// resumes the new one. The older generations go as WithKeep says. The
// journal (WithJournal) is emptied first: the new run's tasklets have the
// IDs and steps of the old one's, and must make their own calls, not be
// answered with the old run's results. Stop the old run before.
func (c *Checkpointer) Restart(init func(*scheduler.Scheduler) error, opts ...scheduler.Option) (*scheduler.Scheduler, error) {
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("store: restart: %w", err)
	}
	if c.journal != nil {
		if err := c.journal.clear(); err != nil {
			return nil, fmt.Errorf("store: restart: %w", err)
		}
		c.mu.Lock()
		c.held = nil
		c.mu.Unlock()
	}
	s, err := c.fresh(init, opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.forceFull = true
	c.mu.Unlock()
	if err := c.Checkpoint(s); err != nil {
		return nil, fmt.Errorf("store: restart: %w", err)
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("store: restart: %w", err)
	}
	return s, nil
}

// Damaged is what was wrong with each newer generation Resume passed over
// because it was damaged, newest first; nil when it restored the newest.
func (c *Checkpointer) Damaged() []error { return c.damaged }

// Resumed is the generation Resume restored (or found finished), 0 for a
// fresh start or a Restart.
func (c *Checkpointer) Resumed() uint64 { return c.resumed }

// fresh makes a new scheduler with the Checkpointer's options and runs init.
func (c *Checkpointer) fresh(init func(*scheduler.Scheduler) error, opts []scheduler.Option) (*scheduler.Scheduler, error) {
	c.resumed = 0
	s := scheduler.New(c.options(opts)...)
	if init != nil {
		if err := init(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// options are the caller's scheduler options plus the Checkpointer's.
func (c *Checkpointer) options(opts []scheduler.Option) []scheduler.Option {
	opts = append(opts[:len(opts):len(opts)], scheduler.WithChangeTracking(),
		scheduler.WithKindNames(c.reg.KindName), scheduler.WithValueCheck(c.reg.CheckValue))
	if c.every > 0 || c.interval > 0 {
		opts = append(opts, scheduler.WithCheckpoint(c.every, c.interval, c.Checkpoint))
	}
	return opts
}
