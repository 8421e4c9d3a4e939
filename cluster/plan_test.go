package cluster

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func snap(sizes map[uint16]int, next uint16) *clusterSnapshot {
	s := &clusterSnapshot{NextNode: next}
	for n, size := range sizes {
		s.Worlds = append(s.Worlds, storedWorld{Node: n, Hosts: []uint16{n}, Blob: make([]byte, size)})
	}
	slices.SortFunc(s.Worlds, func(a, b storedWorld) int { return int(a.Node) - int(b.Node) })
	return s
}

// checkPlan asserts what every plan must satisfy: m placements, every
// stored world placed exactly once, every logical node routed once, each
// worker's node among its hosts, new nodes from next on.
func checkPlan(t *testing.T, s *clusterSnapshot, m int, ps []placement, next uint16) {
	t.Helper()
	require.Len(t, ps, m)
	placed := map[uint16]int{}
	routed := map[uint16]int{}
	for _, p := range ps {
		assert.Contains(t, p.Hosts, p.Node)
		for _, w := range p.Worlds {
			placed[w.Node]++
		}
		for _, h := range p.Hosts {
			routed[h]++
		}
		if len(p.Worlds) == 0 {
			assert.GreaterOrEqual(t, p.Node, s.NextNode, "a new worker gets a new node number")
			assert.Less(t, p.Node, next)
		}
	}
	for _, w := range s.Worlds {
		assert.Equal(t, 1, placed[w.Node], "world %d placed once", w.Node)
		for _, h := range w.Hosts {
			assert.Equal(t, 1, routed[h], "logical node %d routed once", h)
		}
	}
}

func TestPlanShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes map[uint16]int
		m     int
	}{
		{"same count", map[uint16]int{1: 10, 2: 10, 3: 10}, 3},
		{"onto fewer", map[uint16]int{1: 10, 2: 30, 3: 20, 4: 5}, 2},
		{"onto one", map[uint16]int{1: 10, 2: 30, 3: 20}, 1},
		{"onto more", map[uint16]int{1: 10, 2: 30}, 5},
		{"empty snapshot", map[uint16]int{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := snap(tc.sizes, 9)
			ps, next, err := plan(s, tc.m)
			require.NoError(t, err)
			checkPlan(t, s, tc.m, ps, next)
			assert.Equal(t, uint16(9+max(0, tc.m-len(tc.sizes))), next)
		})
	}
}

func TestPlanOntoFewerBalancesBytes(t *testing.T) {
	s := snap(map[uint16]int{1: 100, 2: 60, 3: 50, 4: 10}, 5)
	ps, _, err := plan(s, 2)
	require.NoError(t, err)
	var loads []int
	for _, p := range ps {
		n := 0
		for _, w := range p.Worlds {
			n += len(w.Blob)
		}
		loads = append(loads, n)
		assert.Equal(t, p.Worlds[0].Node, p.Node, "a worker takes the smallest node among its worlds")
	}
	slices.Sort(loads)
	assert.Equal(t, []int{110, 110}, loads, "greedy biggest-first packing of 100,60,50,10")
}

func TestPlanKeepsMergedHosts(t *testing.T) {
	s := &clusterSnapshot{NextNode: 6, Worlds: []storedWorld{
		{Node: 1, Hosts: []uint16{1, 4}, Blob: []byte{1}},
		{Node: 2, Hosts: []uint16{2, 3, 5}, Blob: []byte{1}},
	}}
	ps, _, err := plan(s, 1)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, uint16(1), ps[0].Node)
	assert.Equal(t, []uint16{1, 2, 3, 4, 5}, ps[0].Hosts)
	assert.Equal(t, map[uint16]uint16{1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, routesOf(ps))
}

func TestPlanRefusesBadCounts(t *testing.T) {
	_, _, err := plan(snap(map[uint16]int{1: 1}, 2), 0)
	assert.Error(t, err)
	_, _, err = plan(snap(map[uint16]int{1: 1}, maxWorkerNode), 3)
	assert.ErrorContains(t, err, "out of node numbers")
}
