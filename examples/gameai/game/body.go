package game

import (
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Body is what a guard's or a monster's script carries from one action to
// the next: who it is, where it walks, how healthy it is, its random state,
// and what the world last heard of it. The scripts pass it by value into
// the action they start and get it back when the action ends (a suspending
// function may not keep a pointer to its caller's locals: after a restore
// it would point at a copy), so between two steps it is plain data in the
// tasklet's frames, saved with the game.
//
// Every frame on a script's call stack holds a copy, so the fields are
// ordered to pack tight: the game's speed depends on how much memory its
// 100,000 tasklets take.
type Body struct {
	Kind  Kind
	State State
	HP    int32
	Slot  int32
	Side  int32      // the world is Side x Side
	Inbox channel.ID // perception events, blows and arrivals come here
	World channel.ID // moves and deaths go here
	Rng   uint64
	Leg   Leg  // the current walk or wait
	Told  Move // the state and leg the world last heard of
}

// Foe is whom an entity fights or runs from: its inbox (where blows go)
// and where it was last seen or felt, and when. A zero Foe is none: the
// foe is gone.
type Foe struct {
	Inbox channel.ID
	At    Point
	When  time.Duration
}

func (b Body) String() string { return fmt.Sprintf("%v %d", b.Kind, b.Slot) }

// newBody is an entity at p, in state s, with full health, that the world
// knows where it is.
func newBody(k Kind, slot int32, inbox, world channel.ID, side int32, at Point, s State, seed uint64) Body {
	b := Body{Kind: k, Slot: slot, Inbox: inbox, World: world, Side: side, State: s, HP: fullHP, Rng: seed,
		Leg: Leg{From: at, To: at}}
	b.Told = b.move()
	return b
}

func (b *Body) move() Move { return Move{Slot: b.Slot, State: b.State, Leg: b.Leg} }

// await is how an entity waits for something to happen: it returns the
// next message in its inbox, or Arrived when its leg ends first. Only when
// the inbox is empty does it suspend, and then it first tells the world the
// state and leg the entity took since it last waited, if they changed. So
// everything that reached the entity while it slept is handled in one step,
// at one instant, and the world hears one move per step. The end of the leg
// is a timeout on the scheduler's timers (legUntil): the entity sleeps
// until then unless a message comes.
func await(t *tasklet.Flow, b Body) (Body, any, error) {
	msg, ok, err := t.TryRecv(b.Inbox)
	if err != nil {
		return b, nil, fmt.Errorf("%v: inbox %v: %w", b, b.Inbox, err)
	}
	if ok {
		return b, msg, nil
	}
	if mv := b.move(); mv != b.Told {
		sent, err := t.TrySend(b.World, mv)
		if err != nil || !sent { // the world's channel is sized so that this never fails
			return b, nil, fmt.Errorf("%v: %w", b, reportError(b.World, err))
		}
		b.Told = mv
	}
	chosen, msg, err := t.Select(tasklet.RecvCase(b.Inbox), tasklet.TimeoutCase(legUntil(b.Leg, t.Now())))
	if err != nil {
		return b, nil, fmt.Errorf("%v: %w", b, err)
	}
	if chosen == 1 {
		return b, Arrived{}, nil
	}
	return b, msg, nil
}

// flee runs from threat for a while, then rests until healed; struck at
// rest, it runs again. It returns when the entity has healed enough to go
// back to what it does, or (a monster) is dead.
func flee(t *tasklet.Flow, b Body, threat Point) (Body, error) {
	b.State = Flee
	b.runFrom(threat, t.Now())
	for {
		var msg any
		var err error
		b, msg, err = await(t, b)
		if err != nil {
			return b, err
		}
		now := t.Now()
		switch m := msg.(type) {
		case Arrived: // the run, or a rest, is over
			if b.Leg.Resting() {
				b.HP = min(b.HP+restHeal, fullHP)
			}
			if b.HP >= b.recoveredHP() {
				return b, nil
			}
			b.Leg = wait(b.Leg.At(now), now, restTime)
		case Attack:
			if b.takes(m, now) {
				if b.HP <= 0 {
					return b, nil
				}
				if b.Leg.Resting() {
					b.runFrom(m.At, now)
				}
			}
		}
	}
}

// walkTo starts a walk towards `to` at speed, for at most limit (0: no
// limit).
func (b *Body) walkTo(to Point, now time.Duration, speed int64, limit time.Duration) {
	b.Leg = walk(b.Leg.At(now), to, now, speed, limit)
}

// runFrom starts a run of fleeTime straight away from threat.
func (b *Body) runFrom(threat Point, now time.Duration) {
	speed := int64(guardRun)
	if b.Kind == MonsterKind {
		speed = monsterRun
	}
	pos := b.Leg.At(now)
	to := clamp(away(pos, threat, speed*int64(fleeTime/time.Second), &b.Rng), b.Side)
	b.Leg = walk(pos, to, now, speed, fleeTime)
}

// recoveredHP is the health at which a resting entity stops resting.
func (b *Body) recoveredHP() int32 {
	if b.Kind == MonsterKind {
		return monsterRecoverHP
	}
	return guardRecoverHP
}

// hurt reports whether the entity is too weak to fight: it flees.
func (b *Body) hurt() bool {
	if b.Kind == MonsterKind {
		return b.HP < monsterFleeHP
	}
	return b.HP < guardFleeHP
}

// takes the blow a, unless it was struck from out of reach (a miss; it
// reports false). A guard keeps at least one hit point; a monster's health
// may drop to zero or below: it is dead.
func (b *Body) takes(a Attack, now time.Duration) bool {
	if !within(b.Leg.At(now), a.At, missRange) {
		return false
	}
	if b.Kind == GuardKind {
		b.HP = max(b.HP-a.Damage, 1)
	} else {
		b.HP -= a.Damage
	}
	return true
}

// strike returns a blow struck from where the entity stands and makes it
// wait the cooldown before the next.
func (b *Body) strike(now time.Duration) Attack {
	lo, hi := int64(guardMinDamage), int64(guardMaxDamage)
	if b.Kind == MonsterKind {
		lo, hi = monsterMinDamage, monsterMaxDamage
	}
	pos := b.Leg.At(now)
	blow := Attack{From: b.Inbox, At: pos, Damage: int32(between(&b.Rng, lo, hi))}
	b.Leg = wait(pos, now, cooldown)
	return blow
}
