package game

import (
	"errors"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// GuardMachine is the guard of [Guard] written by hand as a state machine,
// the layer below the script: it plays the same game, move for move
// (TestScriptsPlayTheHandWrittenGame), and is the baseline of the
// benchmarks (Config.HandWritten plays it). Its State says which of the
// script's actions it is in; each message moves it on.
//
// Its exported fields are its whole state: the saved game holds them and
// nothing else.
type GuardMachine struct {
	Slot    int32
	Inbox   channel.ID // perception events, attacks and arrivals come here
	World   channel.ID // moves go here
	Side    int32      // the world is Side x Side
	State   State
	HP      int32
	Rng     uint64
	Route   [4]Point // the patrol round
	Next    uint8    // the waypoint being walked to
	Leg     Leg      // the current walk or wait
	Target  channel.ID
	Seen    Point         // where the target was last seen or felt
	SeenAt  time.Duration // and when
	Started bool          // the first step starts the patrol
}

// Step handles everything that happened since the guard last stepped (the
// message that woke it and whatever else is in its inbox), tells the world
// if it took a new leg, and sleeps until the next message or the end of
// its leg.
func (g *GuardMachine) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(fmt.Errorf("guard %d: %w", g.Slot, err))
	}
	now := t.Now()
	leg, state := g.Leg, g.State
	if !g.Started {
		g.Started = true
		g.patrol(now)
	} else {
		g.on(t, now, woke(t))
	}
	for {
		v, ok, err := t.TryRecv(g.Inbox)
		if err != nil {
			return t.Fail(fmt.Errorf("guard %d: inbox %v: %w", g.Slot, g.Inbox, err))
		}
		if !ok {
			break
		}
		g.on(t, now, v)
	}
	if g.Leg != leg || g.State != state {
		if err := report(t, g.World, Move{Slot: g.Slot, State: g.State, Leg: g.Leg}); err != nil {
			return t.Fail(fmt.Errorf("guard %d: %w", g.Slot, err))
		}
	}
	return t.Select(tasklet.RecvCase(g.Inbox), tasklet.TimeoutCase(legUntil(g.Leg, now)))
}

func (g *GuardMachine) on(t *tasklet.T, now time.Duration, msg any) {
	switch m := msg.(type) {
	case Arrived:
		g.arrived(t, now)
	case Seen:
		g.seen(t, now, m)
	case Attack:
		g.attacked(t, now, m)
	}
}

func (g *GuardMachine) arrived(t *tasklet.T, now time.Duration) {
	switch g.State {
	case Patrol:
		if g.Leg.To == g.Route[g.Next] {
			g.Next = (g.Next + 1) % uint8(len(g.Route))
		}
		g.patrol(now)
	case Chase:
		g.chase(t, now)
	case Fight:
		g.fight(t, now)
	case Flee:
		g.recover(now)
	}
}

// seen: the world reports the nearest monster in sight, when it is a new
// one or has moved. A patrolling guard goes for it; a chasing one re-aims.
func (g *GuardMachine) seen(t *tasklet.T, now time.Duration, m Seen) {
	if g.State == Patrol || g.State == Chase {
		g.Target, g.Seen, g.SeenAt = m.Monster, m.At, now
		g.chase(t, now)
	}
}

func (g *GuardMachine) attacked(t *tasklet.T, now time.Duration, a Attack) {
	pos := g.Leg.At(now)
	if !within(pos, a.At, missRange) {
		return // swung from too far away: a miss
	}
	g.HP = max(g.HP-a.Damage, 1)
	switch {
	case g.State == Flee:
		if g.Leg.Resting() { // attacked while resting: run again
			g.flee(now, a.At)
		}
	case g.HP < guardFleeHP:
		g.flee(now, a.At)
	case g.State == Patrol, g.State == Chase: // turn on the attacker
		g.Target, g.Seen, g.SeenAt = a.From, a.At, now
		g.chase(t, now)
	case a.From == g.Target:
		g.Seen, g.SeenAt = a.At, now
	}
}

// patrol walks to the next waypoint.
func (g *GuardMachine) patrol(now time.Duration) {
	g.State, g.Target = Patrol, 0
	g.Leg = walk(g.Leg.At(now), g.Route[g.Next], now, guardWalk, 0)
}

// chase runs to where the target was seen, or fights it once in reach.
// The world tells a chasing guard when the target moves.
func (g *GuardMachine) chase(t *tasklet.T, now time.Duration) {
	pos := g.Leg.At(now)
	if within(pos, g.Seen, attackRange) {
		g.State = Fight
		g.strike(t, now, pos)
		return
	}
	g.State = Chase
	stop := towards(g.Seen, pos, attackRange/2) // just inside reach
	g.Leg = walk(pos, stop, now, guardRun, 0)
}

// fight strikes again after the cooldown. A foe that neither strikes back
// nor is seen for a while is gone (fled, or killed by someone else).
func (g *GuardMachine) fight(t *tasklet.T, now time.Duration) {
	pos := g.Leg.At(now)
	switch {
	case now-g.SeenAt > memory:
		g.patrol(now)
	case !within(pos, g.Seen, attackRange):
		g.chase(t, now)
	default:
		g.strike(t, now, pos)
	}
}

func (g *GuardMachine) strike(t *tasklet.T, now time.Duration, pos Point) {
	blow := Attack{From: g.Inbox, At: pos, Damage: int32(between(&g.Rng, guardMinDamage, guardMaxDamage))}
	if _, err := t.TrySend(g.Target, blow); errors.Is(err, channel.ErrClosed) {
		g.patrol(now) // the monster died: its inbox is closed
		return
	}
	g.Leg = wait(pos, now, cooldown)
}

// flee runs away from threat; recover then rests until healed.
func (g *GuardMachine) flee(now time.Duration, threat Point) {
	pos := g.Leg.At(now)
	g.State, g.Target = Flee, 0
	to := clamp(away(pos, threat, guardRun*int64(fleeTime/time.Second), &g.Rng), g.Side)
	g.Leg = walk(pos, to, now, guardRun, fleeTime)
}

func (g *GuardMachine) recover(now time.Duration) {
	if g.Leg.Resting() {
		g.HP = min(g.HP+restHeal, fullHP)
	}
	if g.HP >= guardRecoverHP {
		g.patrol(now)
		return
	}
	g.Leg = wait(g.Leg.At(now), now, restTime)
}

// woke is what woke a machine waiting in its Select: the message from its
// inbox, or Arrived when the timeout (the end of its leg) fired.
func woke(t *tasklet.T) any {
	if t.Chosen() == 1 {
		return Arrived{}
	}
	return t.Value()
}
