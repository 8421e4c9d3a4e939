package game

import (
	"fmt"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/tasklet"
)

// NewRegistry returns a pickle registry that knows the game's tasklet kinds
// and message types, for saving and loading games. Bump a kind's version
// when its fields change meaning, so old saves fail loudly instead of
// loading wrong. Its records may be as large as MaxRecord.
func NewRegistry() (*pickle.Registry, error) {
	r := pickle.NewRegistry()
	r.SetMaxRecord(MaxRecord) // the world tasklet of a big game
	kinds := []struct {
		name    string
		version uint32
		proto   tasklet.Behavior
	}{
		// Version 3: entities sleep on the scheduler's timers until their
		// leg ends, where at version 2 they waited for the world's notice.
		{"gameai.world", 3, &World{}},
		{"gameai.guard", 3, &GuardTasklet{}},     // the script Guard, lowered
		{"gameai.monster", 3, &MonsterTasklet{}}, // the script Monster, lowered
		{"gameai.guard-machine", 2, &GuardMachine{}},
		{"gameai.monster-machine", 2, &MonsterMachine{}},
	}
	for _, k := range kinds {
		if err := r.Register(k.name, k.version, k.proto); err != nil {
			return nil, fmt.Errorf("gameai: %w", err)
		}
	}
	for _, err := range []error{
		pickle.RegisterValue[Move](r, "gameai.Move"),
		pickle.RegisterValue[Died](r, "gameai.Died"),
		pickle.RegisterValue[Arrived](r, "gameai.Arrived"),
		pickle.RegisterValue[Seen](r, "gameai.Seen"),
		pickle.RegisterValue[Attack](r, "gameai.Attack"),
	} {
		if err != nil {
			return nil, fmt.Errorf("gameai: %w", err)
		}
	}
	return r, nil
}
