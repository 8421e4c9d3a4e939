package game_test

import (
	"fmt"

	"github.com/stackless-go/stackless/examples/gameai/game"
)

// A game is a scheduler with a world tasklet and one tasklet per entity;
// Tick plays one tick of it.
func ExampleNew() {
	g, err := game.New(game.Config{Entities: 100, Seed: 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 50 {
		if err := g.Tick(); err != nil {
			fmt.Println(err)
			return
		}
	}
	st := g.Stats()
	var guards, monsters int32
	for _, n := range st.Guards {
		guards += n
	}
	for _, n := range st.Monsters {
		monsters += n
	}
	fmt.Printf("tick %d: %d guards, %d monsters (counting the dead)\n", st.Tick, guards, monsters)
	// Output: tick 50: 50 guards, 50 monsters (counting the dead)
}
