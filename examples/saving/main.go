package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := saveWorld(ctx, "data/saving.db")
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "saving:", err)
		os.Exit(1)
	}
}

// saveWorld is the README's "Saving a running world": every error handled,
// the three ways a run can start, and the end stored.
func saveWorld(ctx context.Context, path string) (err error) {
	// stackless gen registered the kinds saving.guard and saving.lookout with
	// pickle.Default; the types sent on channels are registered here.
	if err := pickle.RegisterValue[Sighting](pickle.Default, "saving.sighting"); err != nil {
		return err // a field that would not be saved, a name taken twice
	}
	db, err := store.Open(path) // creates the folder if needed; one process per file
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	ck := store.NewCheckpointer(db, pickle.Default, store.WithInterval(time.Second))
	defer func() { err = errors.Join(err, ck.Close()) }() // before db.Close; waits for WithAsync writes

	setup := func(s *scheduler.Scheduler) error {
		eyes := s.NewChannel(0)
		s.Spawn(NewGuard(eyes))
		s.Spawn(NewLookout(eyes, 3))
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
