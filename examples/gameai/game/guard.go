package game

//go:generate go run ../../../cmd/stackless gen

import (
	"errors"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Guard is a guard's life: it patrols its round of waypoints; when it sees
// a monster, or one strikes it, it goes for it, chasing and fighting until
// the monster is gone; hurt, it flees and rests until healed, and goes
// back on patrol. Guards do not die: at worst they are left with one hit
// point and run.
//
// `stackless gen` lowers it into GuardTasklet, whose exported fields are
// the live locals of every frame on its call stack (the body, the route,
// the foe) and where each frame resumes: that is all a saved game holds of
// a guard.
//
//stackless:tasklet kind=gameai.guard version=3
func Guard(t *tasklet.Flow, g Body, route [4]Point) error {
	waypoint := 0
	for {
		var foe Foe
		var err error
		g, waypoint, foe, err = patrol(t, g, route, waypoint)
		if err != nil {
			return err
		}
		// Go for it: chase it into reach, fight it, chase it again when it
		// moves off, until it is gone (dead, or neither seen nor felt for a
		// while) or a blow left the guard hurt.
		for foe.Inbox != 0 && !g.hurt() {
			if within(g.Leg.At(t.Now()), foe.At, attackRange) {
				g, foe, err = fight(t, g, foe)
			} else {
				g, foe, err = chase(t, g, foe)
			}
			if err != nil {
				return err
			}
		}
		if g.hurt() {
			g, err = flee(t, g, foe.At)
			if err != nil {
				return err
			}
		}
	}
}

// patrol walks the round of waypoints from the one numbered waypoint on,
// until a monster comes in sight or strikes; it returns that monster and
// the waypoint to go on from.
func patrol(t *tasklet.Flow, g Body, route [4]Point, waypoint int) (Body, int, Foe, error) {
	g.State = Patrol
walking:
	for {
		g.walkTo(route[waypoint], t.Now(), guardWalk, 0)
		for {
			var msg any
			var err error
			g, msg, err = await(t, g)
			if err != nil {
				return g, waypoint, Foe{}, err
			}
			switch m := msg.(type) {
			case Arrived:
				if g.Leg.To == route[waypoint] {
					waypoint = (waypoint + 1) % len(route)
				}
				continue walking
			case Seen:
				return g, waypoint, Foe{Inbox: m.Monster, At: m.At, When: t.Now()}, nil
			case Attack:
				if g.takes(m, t.Now()) {
					return g, waypoint, Foe{Inbox: m.From, At: m.At, When: t.Now()}, nil
				}
			}
		}
	}
}

// chase runs to just inside reach of where foe was last seen. It returns
// the foe to go for next: the same one on arrival, where the world now
// sees it, or whoever struck the guard on the way.
func chase(t *tasklet.Flow, g Body, foe Foe) (Body, Foe, error) {
	g.State = Chase
	pos := g.Leg.At(t.Now())
	g.walkTo(towards(foe.At, pos, attackRange/2), t.Now(), guardRun, 0)
	for {
		var msg any
		var err error
		g, msg, err = await(t, g)
		if err != nil {
			return g, foe, err
		}
		switch m := msg.(type) {
		case Arrived:
			return g, foe, nil
		case Seen:
			return g, Foe{Inbox: m.Monster, At: m.At, When: t.Now()}, nil
		case Attack:
			if g.takes(m, t.Now()) {
				return g, Foe{Inbox: m.From, At: m.At, When: t.Now()}, nil
			}
		}
	}
}

// fight strikes foe, and again after every cooldown, while it is in reach.
// It returns a zero Foe when the foe is dead or has been neither seen nor
// felt for a while, the foe when it moved out of reach, and whoever struck
// the guard when the blow left it hurt.
func fight(t *tasklet.Flow, g Body, foe Foe) (Body, Foe, error) {
	g.State = Fight
	for {
		if _, err := t.TrySend(foe.Inbox, g.strike(t.Now())); errors.Is(err, channel.ErrClosed) {
			return g, Foe{}, nil // the monster died: its inbox is closed
		}
	cooldown:
		for {
			var msg any
			var err error
			g, msg, err = await(t, g)
			if err != nil {
				return g, foe, err
			}
			now := t.Now()
			switch m := msg.(type) {
			case Arrived:
				if now-foe.When > memory {
					return g, Foe{}, nil // lost
				}
				if !within(g.Leg.At(now), foe.At, attackRange) {
					return g, foe, nil
				}
				break cooldown
			case Attack:
				if !g.takes(m, now) {
					break
				}
				if g.hurt() {
					return g, Foe{Inbox: m.From, At: m.At, When: now}, nil
				}
				if m.From == foe.Inbox {
					foe.At, foe.When = m.At, now
				}
			}
		}
	}
}
