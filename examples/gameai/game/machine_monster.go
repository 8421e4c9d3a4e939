package game

import (
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// MonsterMachine is the monster of [Monster] written by hand as a state
// machine, the layer below the script: the same game, move for move.
type MonsterMachine struct {
	Slot    int32
	Inbox   channel.ID
	World   channel.ID
	Side    int32
	State   State
	HP      int32
	Rng     uint64
	Leg     Leg
	Foe     channel.ID    // who hit it last
	FoeAt   Point         // from where
	HitAt   time.Duration // and when
	Started bool          // the first step starts wandering
}

// Step handles what happened since the monster last stepped and sleeps
// until the next message or the end of its leg; a monster that died exits.
func (m *MonsterMachine) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(fmt.Errorf("monster %d: %w", m.Slot, err))
	}
	now := t.Now()
	leg, state := m.Leg, m.State
	if !m.Started {
		m.Started = true
		m.wander(now)
	} else {
		m.on(t, now, woke(t))
	}
	for m.State != Dead {
		v, ok, err := t.TryRecv(m.Inbox)
		if err != nil {
			return t.Fail(fmt.Errorf("monster %d: inbox %v: %w", m.Slot, m.Inbox, err))
		}
		if !ok {
			break
		}
		m.on(t, now, v)
	}
	if m.State == Dead {
		return m.die(t)
	}
	if m.Leg != leg || m.State != state {
		if err := report(t, m.World, Move{Slot: m.Slot, State: m.State, Leg: m.Leg}); err != nil {
			return t.Fail(fmt.Errorf("monster %d: %w", m.Slot, err))
		}
	}
	return t.Select(tasklet.RecvCase(m.Inbox), tasklet.TimeoutCase(legUntil(m.Leg, now)))
}

func (m *MonsterMachine) on(t *tasklet.T, now time.Duration, msg any) {
	switch a := msg.(type) {
	case Arrived:
		m.arrived(t, now)
	case Attack:
		m.attacked(t, now, a)
	}
}

func (m *MonsterMachine) arrived(t *tasklet.T, now time.Duration) {
	switch m.State {
	case Wander:
		m.wander(now)
	case Fight:
		pos := m.Leg.At(now)
		if now-m.HitAt > memory || !within(pos, m.FoeAt, attackRange) {
			m.wander(now) // the attacker is gone
			return
		}
		m.strike(t, now, pos)
	case Flee:
		m.recover(now)
	}
}

func (m *MonsterMachine) attacked(t *tasklet.T, now time.Duration, a Attack) {
	pos := m.Leg.At(now)
	if !within(pos, a.At, missRange) {
		return
	}
	m.HP -= a.Damage
	switch { // the first that applies
	case m.HP <= 0:
		m.State = Dead
	case m.State == Flee:
		if m.Leg.Resting() {
			m.flee(now, a.At)
		}
	case m.HP < monsterFleeHP:
		m.flee(now, a.At)
	default:
		m.Foe, m.FoeAt, m.HitAt = a.From, a.At, now
		if m.State != Fight { // turn and strike back at once
			m.State = Fight
			m.strike(t, now, pos)
		}
	}
}

// wander walks somewhere nearby, or (one time in four, and never twice in
// a row) idles a moment first.
func (m *MonsterMachine) wander(now time.Duration) {
	pos := m.Leg.At(now)
	m.State, m.Foe = Wander, 0
	if m.Leg.Resting() || next(&m.Rng)%4 != 0 {
		d := between(&m.Rng, wanderMin, wanderMax)
		to := Point{pos.X + int32(between(&m.Rng, -d, d)), pos.Y + int32(between(&m.Rng, -d, d))}
		m.Leg = walk(pos, clamp(to, m.Side), now, monsterWalk, 0)
		if !m.Leg.Resting() {
			return
		}
	}
	m.Leg = wait(pos, now, time.Duration(between(&m.Rng, int64(monsterIdle/4), int64(monsterIdle))))
}

func (m *MonsterMachine) strike(t *tasklet.T, now time.Duration, pos Point) {
	blow := Attack{From: m.Inbox, At: pos, Damage: int32(between(&m.Rng, monsterMinDamage, monsterMaxDamage))}
	t.TrySend(m.Foe, blow) // a full or closed inbox: the blow is lost
	m.Leg = wait(pos, now, cooldown)
}

func (m *MonsterMachine) flee(now time.Duration, threat Point) {
	pos := m.Leg.At(now)
	m.State, m.Foe = Flee, 0
	to := clamp(away(pos, threat, monsterRun*int64(fleeTime/time.Second), &m.Rng), m.Side)
	m.Leg = walk(pos, to, now, monsterRun, fleeTime)
}

func (m *MonsterMachine) recover(now time.Duration) {
	if m.Leg.Resting() {
		m.HP = min(m.HP+restHeal, fullHP)
	}
	if m.HP >= monsterRecoverHP {
		m.wander(now)
		return
	}
	m.Leg = wait(m.Leg.At(now), now, restTime)
}

// die tells the world, drops what is left in the inbox and closes it:
// guards that strike at it from now on get channel.ErrClosed.
func (m *MonsterMachine) die(t *tasklet.T) tasklet.Op {
	if err := report(t, m.World, Died{Slot: m.Slot}); err != nil {
		return t.Fail(fmt.Errorf("monster %d: %w", m.Slot, err))
	}
	for {
		if _, ok, _ := t.TryRecv(m.Inbox); !ok {
			break
		}
	}
	if err := t.Close(m.Inbox); err != nil {
		return t.Fail(fmt.Errorf("monster %d: close inbox %v: %w", m.Slot, m.Inbox, err))
	}
	return t.Exit()
}
