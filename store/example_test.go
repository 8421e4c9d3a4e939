package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// Sighting is what a lookout reports to a guard.
type Sighting struct{ Where string }

// Lookout reports Left sightings on Eyes, then closes it.
type Lookout struct {
	Eyes channel.ID
	Left int
}

func (l *Lookout) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(err)
	}
	if l.Left == 0 {
		if err := t.Close(l.Eyes); err != nil {
			return t.Fail(err)
		}
		return t.Exit()
	}
	l.Left--
	return t.Send(l.Eyes, Sighting{Where: fmt.Sprintf("gate %d", l.Left)})
}

// Guard counts the sightings that arrive on Eyes until it is closed.
type Guard struct {
	Eyes    channel.ID
	Seen    int
	Waiting bool
}

func (g *Guard) Step(t *tasklet.T) tasklet.Op {
	if g.Waiting {
		if errors.Is(t.Err(), channel.ErrClosed) {
			return t.Exit()
		}
		if err := t.Err(); err != nil {
			return t.Fail(err)
		}
		g.Seen++
	}
	g.Waiting = true
	return t.Recv(g.Eyes)
}

// saveWorld is the pattern of the README's "Saving a running world" (whose
// program, examples/saving, is written with stackless gen) one layer down:
// hand-written behaviors, registered in a registry of its own. Every error
// handled, the three ways a run can start, and the end stored.
func saveWorld(ctx context.Context, path string) (err error) {
	reg := pickle.NewRegistry()
	if err := errors.Join(
		reg.Register("guard", 1, &Guard{}),
		reg.Register("lookout", 1, &Lookout{}),
		pickle.RegisterValue[Sighting](reg, "sighting"),
	); err != nil {
		return err // a field that would not be saved, a name taken twice
	}
	db, err := store.Open(path) // creates the folder if needed; one process per file
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	ck := store.NewCheckpointer(db, reg, store.WithInterval(time.Second))
	defer func() { err = errors.Join(err, ck.Close()) }() // before db.Close; waits for WithAsync writes

	setup := func(s *scheduler.Scheduler) error {
		eyes := s.NewChannel(0)
		s.Spawn(&Guard{Eyes: eyes})
		s.Spawn(&Lookout{Eyes: eyes, Left: 3})
		return nil
	}
	s, err := ck.Resume(setup) // the newest checkpoint, or setup on an empty file
	switch {
	case errors.Is(err, store.ErrFinished):
		fmt.Println("the stored run had finished: starting over")
		s, err = ck.Restart(setup)
	case err == nil && ck.Resumed() != 0:
		fmt.Println("resuming generation", ck.Resumed())
	case err == nil:
		fmt.Println("fresh start")
	}
	if err != nil {
		return err
	}
	runErr := s.Run(ctx) // checkpoints every second, but not when it returns:
	if runErr == nil || ctx.Err() != nil {
		err = ck.Checkpoint(s) // store the end (finished, or interrupted)
	}
	fmt.Println("stored generation", ck.Last())
	return errors.Join(runErr, err)
}

// Example_savingARunningWorld runs the same program twice on one file: the
// second run is told that the first one finished.
func Example_savingARunningWorld() {
	dir, err := os.MkdirTemp("", "stackless-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data", "world.db")
	for range 2 {
		if err := saveWorld(context.Background(), path); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// fresh start
	// stored generation 1
	// the stored run had finished: starting over
	// stored generation 3
}
