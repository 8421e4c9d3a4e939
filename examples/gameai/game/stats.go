package game

import (
	"fmt"
	"strings"
	"time"
)

// Stats is a census of the game after a tick.
type Stats struct {
	Tick     int64            `json:"tick"`
	Guards   map[string]int32 `json:"guards"`   // guards by state
	Monsters map[string]int32 `json:"monsters"` // monsters by state ("dead": waiting to be replaced)
	Kills    int64            `json:"kills"`    // monsters killed since the game began
	Spawned  int64            `json:"spawned"`  // replacements spawned
}

// Stats counts the entities by state. The world keeps the counts, so this
// does not walk the entities.
func (g *Game) Stats() Stats {
	w := g.world
	st := Stats{Tick: w.Tick, Guards: map[string]int32{}, Monsters: map[string]int32{}, Kills: w.Kills, Spawned: w.Spawned}
	for _, s := range statesOf(GuardKind) {
		st.Guards[s.String()] = w.Counts[GuardKind][s]
	}
	for _, s := range statesOf(MonsterKind) {
		st.Monsters[s.String()] = w.Counts[MonsterKind][s]
	}
	return st
}

// Line formats the census as one line of text, with the speed measured
// over the last ticks: how many ticks ran per second of wall time (saves
// and pictures included) and how long one tick took on average.
func (st Stats) Line(ticksPerSec float64, perTick time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tick %d  guards:", st.Tick)
	for _, s := range statesOf(GuardKind) {
		fmt.Fprintf(&b, " %s %d", s, st.Guards[s.String()])
	}
	b.WriteString("  monsters:")
	for _, s := range statesOf(MonsterKind) {
		fmt.Fprintf(&b, " %s %d", s, st.Monsters[s.String()])
	}
	fmt.Fprintf(&b, "  kills %d  %.0f ticks/s  %d µs/tick", st.Kills, ticksPerSec, perTick.Microseconds())
	return b.String()
}
