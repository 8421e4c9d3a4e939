package game

import (
	"fmt"
	"time"

	"github.com/stackless-go/stackless/tasklet"
)

// Monster is a monster's life: it roams at random until something strikes
// it; then it strikes back until the attacker is gone, and roams again.
// Hurt, it flees and rests until healed; with no health left it dies: it
// tells the world, closes its inbox (so attackers learn it is gone) and
// ends. The world spawns a new monster in its slot after a delay.
//
//stackless:tasklet kind=gameai.monster version=3
func Monster(t *tasklet.Flow, m Body) error {
	for m.HP > 0 {
		var foe Foe
		var err error
		m, foe, err = roam(t, m)
		if err != nil {
			return err
		}
		if m.HP > 0 && !m.hurt() {
			m, foe, err = fightBack(t, m, foe)
			if err != nil {
				return err
			}
		}
		if m.HP > 0 && m.hurt() {
			m, err = flee(t, m, foe.At)
			if err != nil {
				return err
			}
		}
	}
	// Dead: tell the world, drop what is left in the inbox and close it,
	// so that guards that strike at it from now on get channel.ErrClosed.
	if sent, err := t.TrySend(m.World, Died{Slot: m.Slot}); err != nil || !sent {
		return fmt.Errorf("%v: %w", m, reportError(m.World, err))
	}
	for {
		if _, ok, _ := t.TryRecv(m.Inbox); !ok {
			break
		}
	}
	if err := t.Close(m.Inbox); err != nil {
		return fmt.Errorf("%v: close inbox %v: %w", m, m.Inbox, err)
	}
	return nil
}

// roam wanders about, leg after leg, until a blow lands; it returns who
// struck.
func roam(t *tasklet.Flow, m Body) (Body, Foe, error) {
	m.State = Wander
walking:
	for {
		m.wander(t.Now())
		for {
			var msg any
			var err error
			m, msg, err = await(t, m)
			if err != nil {
				return m, Foe{}, err
			}
			switch a := msg.(type) {
			case Arrived:
				continue walking
			case Attack:
				if m.takes(a, t.Now()) {
					return m, Foe{Inbox: a.From, At: a.At, When: t.Now()}, nil
				}
			}
		}
	}
}

// fightBack strikes foe at once and again after every cooldown, turning on
// whoever struck it last, until the foe is gone (no blow for a while, or
// out of reach) or a blow left it hurt or dead; it then returns the one who
// struck.
func fightBack(t *tasklet.Flow, m Body, foe Foe) (Body, Foe, error) {
	m.State = Fight
	for {
		t.TrySend(foe.Inbox, m.strike(t.Now())) // a full or closed inbox: the blow is lost
	cooldown:
		for {
			var msg any
			var err error
			m, msg, err = await(t, m)
			if err != nil {
				return m, foe, err
			}
			now := t.Now()
			switch a := msg.(type) {
			case Arrived:
				if now-foe.When > memory || !within(m.Leg.At(now), foe.At, attackRange) {
					return m, Foe{}, nil // the attacker is gone
				}
				break cooldown
			case Attack:
				if !m.takes(a, now) {
					break
				}
				foe = Foe{Inbox: a.From, At: a.At, When: now}
				if m.HP <= 0 || m.hurt() {
					return m, foe, nil
				}
			}
		}
	}
}

// wander starts the next leg of a roam: a walk somewhere nearby, or (one
// time in four, and never twice in a row) a short idle first.
func (m *Body) wander(now time.Duration) {
	pos := m.Leg.At(now)
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
