package game

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Config is what a new game is made from. The same Config gives the same
// game, tick for tick.
type Config struct {
	Entities int           // guards and monsters, half each (default 10,000)
	Seed     uint64        // all randomness derives from it
	Dt       time.Duration // game time per tick (default 100ms)
	Spacing  int32         // average distance between entities in cm (default 40 m); smaller is a denser, bloodier world

	// HandWritten plays the game with the hand-written state machines
	// (GuardMachine, MonsterMachine) instead of the scripts (Guard,
	// Monster): the same game, move for move. The benchmarks compare the
	// two.
	HandWritten bool
}

// Defaults of Config.
const (
	DefaultEntities = 10_000
	DefaultDt       = 100 * time.Millisecond
	MaxEntities     = 10_000_000
	// MaxSavedEntities bounds a game that saves: the world tasklet keeps
	// about 90 bytes an entity in one record, and a million entities make
	// a record of about 90 MB, which MaxRecord allows with room for the
	// respawn queue to grow.
	MaxSavedEntities = 1_000_000
	// MaxRecord is the largest record of a save, for the game's registry
	// and its store. It is over pickle.DefaultMaxRecord (16 MiB, which
	// held saved games to 100,000 entities) for the world tasklet alone;
	// readers of a save use the game's registry (NewRegistry), and
	// stackless inspect reads records up to MaxRecord too.
	MaxRecord = 160 << 20
)

func (c Config) withDefaults() Config {
	if c.Entities == 0 {
		c.Entities = DefaultEntities
	}
	if c.Dt == 0 {
		c.Dt = DefaultDt
	}
	if c.Spacing == 0 {
		c.Spacing = spacing
	}
	return c
}

// Check reports what is wrong with c (after defaults), nil if nothing.
func (c Config) Check() error {
	c = c.withDefaults()
	var errs []error
	if c.Entities < 2 || c.Entities > MaxEntities {
		errs = append(errs, fmt.Errorf("--entities must be between 2 and %d, got %d", MaxEntities, c.Entities))
	}
	if c.Dt <= 0 || c.Dt > time.Second {
		errs = append(errs, fmt.Errorf("--dt must be more than 0 and at most 1s, got %v", c.Dt))
	}
	if c.Spacing < 100 || c.Spacing > 100_000 {
		errs = append(errs, fmt.Errorf("spacing must be between 100 and 100000 cm, got %d", c.Spacing))
	}
	return errors.Join(errs...)
}

// Side is the width of the square world of c, in centimetres.
func (c Config) Side() int32 {
	c = c.withDefaults()
	return int32(math.Sqrt(float64(c.Entities)) * float64(c.Spacing))
}

// Setup spawns a new game on s: the world tasklet first, then one tasklet
// per entity, even slots guards and odd slots monsters, each with its own
// inbox. Guards are posted in towns of about guardsPerTown; monsters start
// in the wilds between the towns and roam everywhere. Run it with Tick on a
// virtual clock advanced by Dt before each tick (Game does that).
func Setup(s *scheduler.Scheduler, c Config) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("gameai: %w", err)
	}
	c = c.withDefaults()
	n, side := c.Entities, c.Side()
	w := &World{
		HandWritten: c.HandWritten,
		Dt:          c.Dt,
		Side:        side,
		Rng:         seedFor(c.Seed, seedWorld, 0),
		Reports:     s.NewChannel(2*n + 64), // an entity reports at most once per tick; the world reads every tick
		Kinds:       make([]Kind, n),
		States:      make([]State, n),
		Inboxes:     make([]channel.ID, n),
		Legs:        make([]Leg, n),
		Told:        make([]Seen, n),
	}
	s.Spawn(w)
	w.Towns = make([]Point, max(n/2/guardsPerTown, 1))
	for i := range w.Towns {
		rng := seedFor(c.Seed, seedTown, uint64(i))
		w.Towns[i] = randomIn(side, &rng)
	}
	for slot := range n {
		rng := seedFor(c.Seed, seedPlace, uint64(slot))
		inbox := s.NewChannel(inboxCap)
		seed := seedFor(c.Seed, seedEntity, uint64(slot))
		var at Point
		kind, state := GuardKind, Patrol
		if slot%2 == 0 {
			at = clamp(aroundPoint(w.Towns[slot/2%len(w.Towns)], 0, townRadius, &rng), side)
			s.Spawn(newGuard(c.HandWritten, int32(slot), inbox, w.Reports, side, at, seed))
		} else {
			kind, state = MonsterKind, Wander
			at = w.wildPoint(&rng)
			s.Spawn(newMonster(c.HandWritten, int32(slot), inbox, w.Reports, side, at, seed))
		}
		w.Kinds[slot], w.States[slot], w.Inboxes[slot] = kind, state, inbox
		w.Legs[slot] = Leg{From: at, To: at}
		w.Counts[kind][state]++
	}
	return nil
}

// newGuard is the guard of a slot, posted at post: its script, or with
// hand its hand-written state machine.
func newGuard(hand bool, slot int32, inbox, world channel.ID, side int32, post Point, seed uint64) tasklet.Behavior {
	b := newBody(GuardKind, slot, inbox, world, side, post, Patrol, seed)
	var route [4]Point
	for i := range route {
		route[i] = clamp(aroundPoint(post, patrolMin, patrolMax, &b.Rng), side)
	}
	if hand {
		return &GuardMachine{Slot: slot, Inbox: inbox, World: world, Side: side, State: Patrol, HP: fullHP,
			Rng: b.Rng, Route: route, Leg: b.Leg}
	}
	return NewGuard(b, route)
}

// newMonster is the monster of a slot, at `at`: its script, or with hand
// its hand-written state machine.
func newMonster(hand bool, slot int32, inbox, world channel.ID, side int32, at Point, seed uint64) tasklet.Behavior {
	b := newBody(MonsterKind, slot, inbox, world, side, at, Wander, seed)
	if hand {
		return &MonsterMachine{Slot: slot, Inbox: inbox, World: world, Side: side, State: Wander, HP: fullHP,
			Rng: b.Rng, Leg: b.Leg}
	}
	return NewMonster(b)
}

// randomIn is a random point of the side x side world.
func randomIn(side int32, rng *uint64) Point {
	return Point{int32(between(rng, 0, int64(side))), int32(between(rng, 0, int64(side)))}
}

// aroundPoint is a random point between lo and hi from p.
func aroundPoint(p Point, lo, hi int64, rng *uint64) Point {
	for {
		d := Point{int32(between(rng, -hi, hi)), int32(between(rng, -hi, hi))}
		if r := dist(Point{}, d); r >= lo && r <= hi {
			return Point{p.X + d.X, p.Y + d.Y}
		}
	}
}
