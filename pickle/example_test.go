package pickle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Patrol walks its route, one post per step. Its exported fields are its
// whole state.
type Patrol struct {
	Route []string
	At    int
}

func (p *Patrol) Step(t *tasklet.T) tasklet.Op {
	p.At = (p.At + 1) % len(p.Route)
	return t.Yield()
}

// PatrolV1 is how version 1 of kind "patrol" kept its route: one string.
type PatrolV1 struct {
	Route string
	At    int
}

func (p *PatrolV1) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func ExampleRegistry_DumpTasklet() {
	reg := pickle.NewRegistry()
	reg.MustRegister("patrol", 1, &Patrol{})

	s := scheduler.New()
	id := s.Spawn(&Patrol{Route: []string{"gate", "tower", "well"}})
	_, _ = s.RunBudget(context.Background(), 4, scheduler.Total|scheduler.Soft)

	ts, err := s.TaskletState(id)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := reg.DumpTasklet(&ts)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, err := reg.LoadTasklet(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := rec.Behavior.(*Patrol)
	fmt.Printf("kind %s v%d, %v after %d steps, at the %s\n", rec.Kind, rec.Version, rec.State, rec.Steps, p.Route[p.At])
	// Output: kind patrol v1, runnable after 4 steps, at the tower
}

func ExampleUpgrade() {
	// A program of the past saved a patrol at version 1.
	v1 := pickle.NewRegistry()
	v1.MustRegister("patrol", 1, &PatrolV1{})
	b, err := v1.DumpTasklet(&scheduler.TaskletState{ID: 1, State: tasklet.Runnable,
		Behavior: &PatrolV1{Route: "gate,tower,well", At: 2}})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Today's program has version 2 and says how to read version 1.
	v2 := pickle.NewRegistry()
	v2.MustRegister("patrol", 2, &Patrol{}, pickle.Upgrade(1, func(old *PatrolV1) (tasklet.Behavior, error) {
		return &Patrol{Route: strings.Split(old.Route, ","), At: old.At}, nil
	}))
	rec, err := v2.LoadTasklet(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := rec.Behavior.(*Patrol)
	fmt.Printf("saved at v%d, now %q at %d\n", rec.Version, p.Route, p.At)

	// Without the upgrade the load fails instead of resuming with wrong state.
	strict := pickle.NewRegistry()
	strict.MustRegister("patrol", 2, &Patrol{})
	_, err = strict.LoadTasklet(b)
	fmt.Println(errors.Is(err, pickle.ErrKindVersion))
	// Output:
	// saved at v1, now ["gate" "tower" "well"] at 2
	// true
}

// Count sends 1..N on Out, then closes it.
type Count struct {
	Out  channel.ID
	I, N int
}

func (c *Count) Step(t *tasklet.T) tasklet.Op {
	if c.I == c.N {
		t.Close(c.Out)
		return t.Exit()
	}
	c.I++
	return t.Send(c.Out, c.I)
}

// Sum adds what arrives on In and sends the total on Res when In closes.
type Sum struct {
	In, Res channel.ID
	Total   int
	Sent    bool
}

func (s *Sum) Step(t *tasklet.T) tasklet.Op {
	switch {
	case s.Sent:
		return t.Exit()
	case errors.Is(t.Err(), channel.ErrClosed):
		s.Sent = true
		return t.Send(s.Res, s.Total)
	}
	if v, ok := t.Value().(int); ok {
		s.Total += v
	}
	return t.Recv(s.In)
}

func ExampleRegistry_LoadWorld() {
	reg := pickle.NewRegistry()
	reg.MustRegister("count", 1, &Count{})
	reg.MustRegister("sum", 1, &Sum{})

	s := scheduler.New()
	in, res := s.NewChannel(0), s.NewChannel(1)
	s.Spawn(&Count{Out: in, N: 10})
	s.Spawn(&Sum{In: in, Res: res})
	_, _ = s.RunBudget(context.Background(), 7, scheduler.Total|scheduler.Soft)

	// Save the world mid-run, then restore it into a fresh scheduler.
	b, err := reg.DumpWorld(s.World())
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := reg.LoadWorld(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	restored, err := scheduler.Restore(w)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The snapshot is a copy: both go on to the same end.
	for _, x := range []*scheduler.Scheduler{s, restored} {
		if err := x.Run(context.Background()); err != nil {
			fmt.Println(err)
			return
		}
		cs, _ := x.ChannelState(res)
		fmt.Println("total", cs.Buffer[0], "after", x.Steps(), "steps")
	}
	// Output:
	// total 55 after 24 steps
	// total 55 after 24 steps
}

// Post is a place on a route.
type Post struct{ Name string }

// Sentry keeps two pointers, which may point at one post.
type Sentry struct {
	Home, Next *Post
}

func (s *Sentry) Step(t *tasklet.T) tasklet.Op { return t.Yield() }

// A state that reaches one value twice would be restored with two copies
// of it: the save is refused, naming both paths.
func ExampleErrShared() {
	reg := pickle.NewRegistry()
	reg.MustRegister("sentry", 1, &Sentry{})

	gate := &Post{Name: "gate"}
	_, err := reg.DumpTasklet(&scheduler.TaskletState{ID: 1, Behavior: &Sentry{Home: gate, Next: gate}, State: tasklet.Runnable, Chosen: -1})
	fmt.Println(errors.Is(err, pickle.ErrShared))
	fmt.Println(strings.Contains(err.Error(), "pickle_test.Sentry.Home and pickle_test.Sentry.Next point at one value"))

	_, err = reg.DumpTasklet(&scheduler.TaskletState{ID: 1, Behavior: &Sentry{Home: gate, Next: &Post{Name: "gate"}}, State: tasklet.Runnable, Chosen: -1})
	fmt.Println(err)
	// Output:
	// true
	// true
	// <nil>
}
