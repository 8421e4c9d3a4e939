package game

import (
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// World is the tasklet that owns the bodies: where every entity is (its
// current leg), what it is doing, and who is in sight of whom. Once per tick
// it
//
//  1. reads the moves and deaths the entities reported,
//  2. replaces monsters that died long enough ago, and
//  3. tells each guard whose turn it is to look the nearest monster in
//     sight.
//
// The end of an entity's leg is not the world's business: the entity
// sleeps on the scheduler's timers until then. Entities between two events
// are asleep and cost nothing: a tick's work is proportional to what
// happens in it, plus the world's own pass over the positions.
//
// Its exported fields are the game's shared state, one entry per slot
// (an entity's place: slot i is a guard or a monster for the whole game,
// and a dead monster's replacement takes its slot). They are saved with the
// game; the grid is scratch.
type World struct {
	HandWritten bool // the entities are the hand-written state machines, not the scripts
	Tick        int64
	Dt          time.Duration // game time per tick
	Side        int32         // the world is Side x Side centimetres
	Rng         uint64
	Towns       []Point    // where the guards live
	Reports     channel.ID // moves and deaths arrive here
	Kinds       []Kind
	States      []State
	Inboxes     []channel.ID
	Legs        []Leg
	Told        []Seen    // what each guard was last told it sees
	Respawns    []Respawn // dead monsters waiting, oldest first
	Counts      [numKinds][numStates]int32
	Kills       int64
	Spawned     int64 // monsters spawned as replacements

	// Scratch, rebuilt from the fields above: the slots of each kind (kinds
	// never change), and the grid of living monsters with its input. Not
	// saved, and tagged so: pickle refuses untagged unexported fields.
	guards, monsters []int32 `stackless:"-"`
	grid             grid    `stackless:"-"`
	slots            []int32 `stackless:"-"`
	pos              []Point `stackless:"-"`
}

// Respawn is a dead monster's slot and the tick its replacement appears.
type Respawn struct {
	Slot int32
	At   int64
}

// Step runs the world's part of one tick.
func (w *World) Step(t *tasklet.T) tasklet.Op {
	if err := t.Err(); err != nil {
		return t.Fail(fmt.Errorf("world: %w", err))
	}
	now := t.Now()
	w.Tick = int64(now / w.Dt)
	if err := w.readReports(t); err != nil {
		return t.Fail(fmt.Errorf("world, tick %d: %w", w.Tick, err))
	}
	w.respawn(t, now)
	w.perceive(t, now)
	return t.Yield()
}

func (w *World) readReports(t *tasklet.T) error {
	for {
		v, ok, err := t.TryRecv(w.Reports)
		if err != nil {
			return fmt.Errorf("reports channel %v: %w", w.Reports, err)
		}
		if !ok {
			return nil
		}
		switch r := v.(type) {
		case Move:
			if err := w.checkSlot(r.Slot); err != nil {
				return err
			}
			if r.State == Patrol && w.States[r.Slot] != Patrol {
				w.Told[r.Slot] = Seen{} // back on patrol: tell it afresh
			}
			w.setState(r.Slot, r.State)
			w.Legs[r.Slot] = r.Leg
		case Died:
			if err := w.checkSlot(r.Slot); err != nil {
				return err
			}
			w.setState(r.Slot, Dead)
			w.Kills++
			w.Respawns = append(w.Respawns, Respawn{Slot: r.Slot, At: w.Tick + w.ticks(respawnDelay)})
		default:
			return fmt.Errorf("unexpected report %T on %v", v, w.Reports)
		}
	}
}

func (w *World) checkSlot(slot int32) error {
	if slot < 0 || int(slot) >= len(w.Legs) {
		return fmt.Errorf("report for slot %d; the world has %d", slot, len(w.Legs))
	}
	return nil
}

func (w *World) setState(slot int32, s State) {
	k := w.Kinds[slot]
	w.Counts[k][w.States[slot]]--
	w.Counts[k][s]++
	w.States[slot] = s
}

// ticks converts game time to whole ticks, rounding up.
func (w *World) ticks(d time.Duration) int64 { return int64((d + w.Dt - 1) / w.Dt) }

// respawn replaces the monsters whose delay is over.
func (w *World) respawn(t *tasklet.T, now time.Duration) {
	n := 0
	for _, r := range w.Respawns {
		if r.At > w.Tick {
			break
		}
		n++
		w.Spawned++
		inbox := t.NewChannel(inboxCap)
		at := w.wildPoint(&w.Rng)
		t.Spawn(newMonster(w.HandWritten, r.Slot, inbox, w.Reports, w.Side, at, seedFor(w.Rng, seedEntity, uint64(w.Spawned))))
		w.Inboxes[r.Slot] = inbox
		w.Legs[r.Slot] = Leg{From: at, To: at}
		w.setState(r.Slot, Wander)
	}
	w.Respawns = append(w.Respawns[:0], w.Respawns[n:]...)
}

// wildPoint is a random point out of sight of every town, where monsters
// appear. In a world that is all town it gives up after a few tries.
func (w *World) wildPoint(rng *uint64) Point {
	const clear = townRadius + perceptionRadius
	var p Point
	for range 16 {
		p = randomIn(w.Side, rng)
		wild := true
		for _, t := range w.Towns {
			if within(p, t, clear) {
				wild = false
				break
			}
		}
		if wild {
			break
		}
	}
	return p
}

// perceive files every living monster in the grid and tells each guard
// whose turn it is (one in perceiveEvery) the nearest monster in sight, if
// that is news: another monster than last time, or the same one moved out
// of reach of where it was. Only guards on patrol or in a chase look: a
// fighting guard learns where its foe is from the blows it gets, and a
// fleeing one runs.
func (w *World) perceive(t *tasklet.T, now time.Duration) {
	if w.guards == nil && w.monsters == nil {
		for slot, k := range w.Kinds {
			if k == GuardKind {
				w.guards = append(w.guards, int32(slot))
			} else {
				w.monsters = append(w.monsters, int32(slot))
			}
		}
	}
	w.slots, w.pos = w.slots[:0], w.pos[:0]
	for _, slot := range w.monsters {
		if w.States[slot] != Dead {
			w.slots = append(w.slots, slot)
			w.pos = append(w.pos, w.Legs[slot].At(now))
		}
	}
	w.grid.reset(w.Side)
	w.grid.build(w.slots, w.pos)
	for i := int(w.Tick % perceiveEvery); i < len(w.guards); i += perceiveEvery {
		slot := w.guards[i]
		if s := w.States[slot]; s != Patrol && s != Chase {
			continue
		}
		m, at := w.grid.nearest(w.Legs[slot].At(now), perceptionRadius)
		if m < 0 {
			continue
		}
		seen := Seen{Monster: w.Inboxes[m], At: at}
		if told := w.Told[slot]; told.Monster == seen.Monster && within(told.At, at, attackRange) {
			continue // nothing new
		}
		if sent, _ := t.TrySend(w.Inboxes[slot], seen); sent { // a full inbox misses a glance
			w.Told[slot] = seen
		}
	}
}
