package game

import (
	"fmt"

	"github.com/stackless-go/stackless/scheduler"
)

// Game is the game loop's handle on a running game: the scheduler, the
// virtual clock it runs on, and the world tasklet (read between ticks for
// statistics and pictures; only tasklets change it).
type Game struct {
	Sched *scheduler.Scheduler
	Clock *scheduler.VirtualClock
	world *World
}

// New sets up a new game on a scheduler made with opts and a virtual clock
// at 0.
func New(c Config, opts ...scheduler.Option) (*Game, error) {
	clock := scheduler.NewVirtualClock(0)
	s := scheduler.New(append(opts, scheduler.WithClock(clock))...)
	if err := Setup(s, c); err != nil {
		return nil, err
	}
	return Attach(s, clock)
}

// Attach finds the game on s (a scheduler set up by Setup, or restored from
// a saved game), whose clock must be clock.
func Attach(s *scheduler.Scheduler, clock *scheduler.VirtualClock) (*Game, error) {
	if s.Clock() != scheduler.Clock(clock) {
		return nil, fmt.Errorf("gameai: the scheduler does not run on the given virtual clock; make it with scheduler.WithClock(clock)")
	}
	for _, in := range s.Tasklets() {
		if w, ok := s.Behavior(in.ID).(*World); ok {
			return &Game{Sched: s, Clock: clock, world: w}, nil
		}
	}
	return nil, fmt.Errorf("gameai: no world tasklet on this scheduler: it holds no game (%d tasklets)", s.Len())
}

// Tick advances the clock by one tick's game time and runs one round: the
// world and every entity that has something to react to step once.
func (g *Game) Tick() error {
	g.Clock.Advance(g.world.Dt)
	if err := g.Sched.Tick(); err != nil {
		return fmt.Errorf("gameai: tick %d: %w", g.Now(), err)
	}
	return nil
}

// World is the world tasklet's state. Read it between ticks; do not change it.
func (g *Game) World() *World { return g.world }

// Now is the tick the game is at (0 before the first).
func (g *Game) Now() int64 { return int64(g.Clock.Now() / g.world.Dt) }
