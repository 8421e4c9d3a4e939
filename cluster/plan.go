package cluster

import (
	"cmp"
	"fmt"
	"slices"
)

// Node numbers: 0 is the coordinator, workers take 1 to maxWorkerNode, and
// the numbers above are for short-lived clients (the CLI).
const (
	coordNode     uint16 = 0
	maxWorkerNode        = 0xEFFF
	firstClient   uint16 = maxWorkerNode + 1
)

// MaxWorkers is the most workers a cluster can have (cluster up -n).
const MaxWorkers = maxWorkerNode

// placement is what one worker gets when a snapshot is restored: the worlds
// to merge (none for a new, empty worker), its node number and the logical
// nodes it hosts from now on.
type placement struct {
	Node   uint16        // the worker's node: its scheduler's node and its ipc identity
	Hosts  []uint16      // logical nodes routed to it, Node included, sorted
	Worlds []storedWorld // the stored worlds it merges (scheduler.Merge when more than one)
}

// plan assigns the worlds of s to m workers. With m at least the number of
// worlds every world keeps a worker of its own (the same node number) and
// the extra workers get new node numbers and empty worlds; with fewer, the
// worlds are packed, biggest first, onto the worker holding the fewest
// bytes so far, and each worker takes the smallest node among its worlds.
// It returns the placements in node order and the next free node number.
func plan(s *clusterSnapshot, m int) ([]placement, uint16, error) {
	if m < 1 {
		return nil, 0, fmt.Errorf("cluster: restore onto %d workers: need at least 1", m)
	}
	next := s.NextNode
	if next == 0 {
		next = 1
	}
	worlds := slices.Clone(s.Worlds)
	var out []placement
	if m >= len(worlds) {
		for _, w := range worlds {
			out = append(out, placement{Node: w.Node, Hosts: sorted(w.Hosts), Worlds: []storedWorld{w}})
		}
		for len(out) < m {
			if int(next)+m-len(out)-1 > maxWorkerNode {
				return nil, 0, fmt.Errorf("cluster: restore onto %d workers: out of node numbers (next is %d, the last a worker may have is %d)", m, next, maxWorkerNode)
			}
			out = append(out, placement{Node: next, Hosts: []uint16{next}})
			next++
		}
	} else {
		slices.SortStableFunc(worlds, func(a, b storedWorld) int {
			return cmp.Or(-cmp.Compare(len(a.Blob), len(b.Blob)), cmp.Compare(a.Node, b.Node))
		})
		bins := make([]placement, m)
		load := make([]int, m)
		for _, w := range worlds {
			i := 0
			for j := range bins {
				if load[j] < load[i] || (load[j] == load[i] && len(bins[j].Worlds) < len(bins[i].Worlds)) {
					i = j
				}
			}
			bins[i].Worlds = append(bins[i].Worlds, w)
			load[i] += len(w.Blob) + 1
		}
		for _, b := range bins {
			slices.SortFunc(b.Worlds, func(x, y storedWorld) int { return cmp.Compare(x.Node, y.Node) })
			b.Node = b.Worlds[0].Node
			for _, w := range b.Worlds {
				b.Hosts = append(b.Hosts, w.Hosts...)
			}
			b.Hosts = sorted(b.Hosts)
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b placement) int { return cmp.Compare(a.Node, b.Node) })
	return out, next, nil
}

func sorted(x []uint16) []uint16 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y
}

// routesOf maps every logical node of the placements to the worker node
// that hosts it.
func routesOf(ps []placement) map[uint16]uint16 {
	r := map[uint16]uint16{}
	for _, p := range ps {
		for _, l := range p.Hosts {
			r[l] = p.Node
		}
	}
	return r
}
