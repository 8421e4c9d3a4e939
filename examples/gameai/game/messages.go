package game

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

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

// Arrived is what an entity's wait gives when its leg is over: it reached
// the end of its walk, or its wait is up. The scheduler's timer says so (a
// select's timeout); no one sends it. It is still a registered message, as
// saves of version 2 held it in inboxes.
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

// report sends a message to the world. The world's channel is sized so that
// this never fails; if it does, the game is broken and stops.
func report(t *tasklet.T, world channel.ID, msg any) error {
	sent, err := t.TrySend(world, msg)
	if err != nil || !sent {
		return reportError(world, err)
	}
	return nil
}

// reportError is the error of a report to the world that was not sent:
// err from the channel, or (nil) a full channel.
func reportError(world channel.ID, err error) error {
	if err != nil {
		return fmt.Errorf("report to the world on %v: %w", world, err)
	}
	return fmt.Errorf("report to the world on %v: the channel is full", world)
}
