package game

import "github.com/stackless-go/stackless/channel"

// The messages of the game. Entities address each other by inbox channel
// ID, never by pointer, so every message can sit in a saved channel buffer.
// They are small values: boxing them into a channel's `any` is one small
// allocation, and Arrived (zero size) none at all.

// Move tells the world that an entity starts a new leg, in a new state.
// Entity -> world.
type Move struct {
	Slot  int32
	State State
	Leg   Leg
}

// Died tells the world that the monster in a slot died. Monster -> world.
type Died struct{ Slot int32 }

// Arrived tells an entity that its leg is over: it reached the end of its
// walk, or its wait is up. World -> entity.
type Arrived struct{}

// Seen tells a guard the nearest monster it can see. World -> guard.
type Seen struct {
	Monster channel.ID // the monster's inbox: how to attack it
	At      Point
}

// Attack is a blow: the victim loses Damage hit points if the attacker at
// At is within reach. Guard -> monster and monster -> guard.
type Attack struct {
	From   channel.ID // the attacker's inbox: where to strike back
	At     Point
	Damage int32
}
