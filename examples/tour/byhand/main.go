// Command byhand is the tour's guard written one layer down, as
// hand-written behaviors: a state machine per tasklet, whose exported fields
// are its whole continuation. It prints what examples/tour prints.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Guard counts intruders until its channel closes. Its exported fields are
// its whole continuation: between two steps a Guard is plain data.
type Guard struct {
	PC   int        // where the next step resumes
	Eyes channel.ID // references are IDs, never pointers
	Seen int
}

func (g *Guard) Step(t *tasklet.T) tasklet.Op {
	switch g.PC {
	case 0:
		g.PC = 1
		return t.Recv(g.Eyes) // suspend until a value arrives
	case 1:
		err := t.Err() // what the suspension delivered: read it, or the tasklet ends
		if errors.Is(err, channel.ErrClosed) {
			fmt.Printf("guard saw %d intruders\n", g.Seen)
			return t.Exit()
		}
		if err != nil {
			return t.Fail(err)
		}
		g.Seen++
		fmt.Println("guard sees", t.Value())
		return t.Recv(g.Eyes) // wait for the next one
	}
	return t.Fail(fmt.Errorf("guard: bad PC %d", g.PC))
}

// Intruders walk past the guard one by one, then close the channel.
type Intruders struct {
	Eyes  channel.ID
	Names []string
}

func (in *Intruders) Step(t *tasklet.T) tasklet.Op {
	if len(in.Names) == 0 {
		if err := t.Close(in.Eyes); err != nil { // wakes the guard with channel.ErrClosed
			return t.Fail(err)
		}
		return t.Exit()
	}
	name := in.Names[0]
	in.Names = in.Names[1:]
	return t.Send(in.Eyes, name) // rendezvous: the receiver runs at once
}

func main() {
	s := scheduler.New()
	eyes := s.NewChannel(0) // capacity 0: unbuffered
	s.Spawn(&Guard{Eyes: eyes})
	s.Spawn(&Intruders{Eyes: eyes, Names: []string{"orc", "troll"}})
	if err := s.Run(context.Background()); err != nil { // until all exit
		fmt.Println(err)
	}
}
