// Command tour: a guard counts the intruders that walk past it. Both are
// straight-line tasklets; stackless gen lowers them into behaviors that
// can be saved between any two steps (tour_stackless.go).
package main

//go:generate go run github.com/stackless-go/stackless/cmd/stackless gen

import (
	"context"
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Guard counts intruders until its channel closes.
//
//stackless:tasklet kind=tour.guard version=1
func Guard(t *tasklet.Flow, eyes channel.ID) error {
	seen := 0
	for {
		v, err := t.Recv(eyes) // suspend until a value arrives
		if errors.Is(err, channel.ErrClosed) {
			fmt.Printf("guard saw %d intruders\n", seen)
			return nil
		}
		if err != nil {
			return err
		}
		seen++
		fmt.Println("guard sees", v)
	}
}

// Intruders walk past the guard one by one, then close the channel.
//
//stackless:tasklet kind=tour.intruders version=1
func Intruders(t *tasklet.Flow, eyes channel.ID, names []string) error {
	for _, name := range names {
		if err := t.Send(eyes, name); err != nil { // rendezvous: the guard runs at once
			return err
		}
	}
	return t.Close(eyes) // wakes the guard with channel.ErrClosed
}

func main() {
	s := scheduler.New()
	eyes := s.NewChannel(0) // capacity 0: unbuffered
	s.Spawn(NewGuard(eyes)) // NewGuard and NewIntruders: written by stackless gen
	s.Spawn(NewIntruders(eyes, []string{"orc", "troll"}))
	if err := s.Run(context.Background()); err != nil { // until all exit
		fmt.Println(err)
	}
}
