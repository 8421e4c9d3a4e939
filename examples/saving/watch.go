// Command saving runs a small world of straight-line tasklets checkpointed
// to data/saving.db, as the README's "Saving a running world" shows: run it
// again and it resumes the stored run, or starts over when that run had
// finished.
package main

//go:generate go run github.com/stackless-go/stackless/cmd/stackless gen

import (
	"errors"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Sighting is what the lookout reports to the guard.
type Sighting struct{ Gate int }

// Lookout watches n gates, one a minute, reporting each on eyes, then
// closes it.
//
//stackless:tasklet kind=saving.lookout version=1
func Lookout(t *tasklet.Flow, eyes channel.ID, n int) error {
	for gate := range n {
		if err := t.Sleep(time.Minute); err != nil { // the scheduler's clock: virtual, so instant
			return err
		}
		if err := t.Send(eyes, Sighting{Gate: gate}); err != nil {
			return err
		}
	}
	return t.Close(eyes)
}

// Guard collects the lookout's sightings until eyes is closed.
//
//stackless:tasklet kind=saving.guard version=1
func Guard(t *tasklet.Flow, eyes channel.ID) error {
	var gates []int // used after the receive: saved with the guard
	for {
		s, err := tasklet.RecvAs[Sighting](t, eyes)
		if errors.Is(err, channel.ErrClosed) {
			fmt.Println("guard: sightings at gates", gates)
			return nil
		}
		if err != nil {
			return err
		}
		gates = append(gates, s.Gate)
	}
}
