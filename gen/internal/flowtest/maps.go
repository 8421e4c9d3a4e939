package flowtest

import (
	"fmt"
	"slices"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Squad is a value holding a map, ranged over through a field path.
type Squad struct {
	Name string
	HP   map[string]int
}

// Maps ranges over maps with suspensions inside: a saved local whose
// entries the body edits (one deleted before it is reached is not seen,
// one added may be visited or not), a field path, a map from a call that no local
// holds, struct keys, break and continue, and a map of structs holding maps
// walked through the outer key. What it reports does not
// depend on the order of a map's keys, which Go leaves open.
//
//stackless:tasklet kind=flowtest.maps version=1
func Maps(t *tasklet.Flow, out channel.ID) error {
	hp := map[string]int{"a": 1, "b": 2, "c": 3, "d": 4}
	var seen []string
	for name, v := range hp {
		if name == "zz" {
			continue // added below: Go may visit it or not
		}
		hp[name] = add(t, v, 10)
		if len(seen) == 0 {
			// Not reached yet, whatever the order: not seen.
			gone := "c"
			if name == "c" {
				gone = "d"
			}
			delete(hp, gone)
			hp["zz"] = 0
		}
		seen = append(seen, fmt.Sprint(name, "=", v))
	}
	delete(hp, "zz")
	sq := Squad{Name: "red", HP: map[string]int{"x": 5, "y": 6}}
	total := 0
	for _, v := range sq.HP {
		total += add(t, v, 0)
	}
	n := 0
	for range sq.HP {
		n += add(t, 1, 0)
	}
	for k := range build(3) {
		n += add(t, k, 1)
	}
	pts := map[Point]bool{{1, 2}: true, {3, 4}: false}
	trues := 0
outer:
	for p, ok := range pts {
		for range 2 {
			_ = t.Yield()
			if !ok {
				continue outer
			}
		}
		trues += p.X
		if trues > 100 {
			break
		}
	}
	// Nested: a map of structs holding maps, the inner one reached through
	// the outer key (a row variable would hold the inner map twice).
	squads := map[string]Squad{"red": {Name: "red", HP: map[string]int{"x": 1, "y": 2}}, "blue": {Name: "blue", HP: map[string]int{"z": 3}}}
	hpSum := 0
	for id := range squads {
		for member := range squads[id].HP {
			hpSum += add(t, squads[id].HP[member], 0)
			squads[id].HP[member] = 0
		}
	}
	slices.Sort(seen)
	return t.Send(out, fmt.Sprint(len(seen), len(hp), hp["a"]+hp["b"], sq, total, n, trues, hpSum, squads))
}

func build(n int) map[int]bool {
	m := map[int]bool{}
	for i := range n {
		m[i] = true
	}
	return m
}
