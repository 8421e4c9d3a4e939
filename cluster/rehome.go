package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Restoring a cluster checkpoint starts every worker with a fresh ipc node,
// which knows nothing of where migrated tasklets went. Without that
// knowledge a completion for a remote wait goes to the tasklet's birth node
// (the node in its ID). So before the worlds are handed out, every tasklet
// that waits on a channel of another world moves, as data, to the world
// that hosts its birth node: its queue entries become remote waiters in
// the world it leaves and local ones in the world it joins, exactly as a
// live migration would leave them. Tasklets that wait on nothing remote
// stay where they are; the balancer spreads the rest again.

// prepareWorlds returns, for each placement, the pickled world its worker
// starts from (nil for an empty one).
func prepareWorlds(reg *pickle.Registry, snap *clusterSnapshot, ps []placement) ([][]byte, error) {
	worlds := map[uint16]*scheduler.World{}
	for _, w := range snap.Worlds {
		wd, err := reg.LoadWorld(w.Blob)
		if err != nil {
			return nil, fmt.Errorf("cluster: generation %d, world of node %d: %w", snap.Gen, w.Node, err)
		}
		if wd.Node != w.Node {
			return nil, fmt.Errorf("cluster: generation %d: the world stored for node %d is node %d's", snap.Gen, w.Node, wd.Node)
		}
		worlds[w.Node] = wd
	}
	touched, err := rehome(worlds, snap.Routes())
	if err != nil {
		return nil, fmt.Errorf("cluster: generation %d: %w", snap.Gen, err)
	}
	out := make([][]byte, len(ps))
	for i, p := range ps {
		switch len(p.Worlds) {
		case 0:
		case 1:
			w := p.Worlds[0]
			if !touched[w.Node] {
				out[i] = w.Blob
				continue
			}
			if out[i], err = reg.DumpWorld(worlds[w.Node]); err != nil {
				return nil, fmt.Errorf("cluster: world of node %d: %w", w.Node, err)
			}
		default:
			group := make([]*scheduler.World, len(p.Worlds))
			for j, w := range p.Worlds {
				group[j] = worlds[w.Node]
			}
			localizeGroup(group)
			m, err := scheduler.Merge(p.Node, group...)
			if err != nil {
				return nil, fmt.Errorf("cluster: merge the worlds of nodes %v onto worker %d: %w", p.Hosts, p.Node, err)
			}
			if out[i], err = reg.DumpWorld(m); err != nil {
				return nil, fmt.Errorf("cluster: merged world of worker %d: %w", p.Node, err)
			}
		}
	}
	return out, nil
}

// rehome moves every blocked tasklet that waits on a channel hosted by
// another world into the world hosting its birth node. hostOf maps logical
// nodes to the world that hosts them. It reports the worlds it changed.
//
// It decides every move first, then fixes the queues and the timers in one
// pass over each world: moved one at a time, each move walked every
// channel and timer of two worlds, and a rollback after the balancer had
// moved 50,000 waiters among 100,000 channels took minutes.
func rehome(worlds map[uint16]*scheduler.World, hostOf map[uint16]uint16) (map[uint16]bool, error) {
	touched := map[uint16]bool{}
	moves := map[tasklet.ID]move{}
	var order []tasklet.ID // the moves as they were decided
	for _, k := range slices.Sorted(maps.Keys(worlds)) {
		src := worlds[k]
		var keep []scheduler.TaskletState
		for _, ts := range src.Tasklets {
			home, ok := hostOf[ts.ID.Node()]
			if !ok || worlds[home] == nil {
				return nil, fmt.Errorf("tasklet %v was born on node %d, which no world hosts", ts.ID, ts.ID.Node())
			}
			if ts.State != tasklet.Blocked || home == k || !waitsElsewhere(&ts, k, hostOf) {
				keep = append(keep, ts)
				continue
			}
			moves[ts.ID] = move{src: k, dst: home, wait: ts.Wait}
			order = append(order, ts.ID)
			worlds[home].Tasklets = append(worlds[home].Tasklets, ts)
			touched[k], touched[home] = true, true
		}
		src.Tasklets = keep
	}
	if len(moves) == 0 {
		return touched, nil
	}
	for k, w := range worlds {
		moveWaiters(w, k, moves)
	}
	moveTimers(worlds, moves, order)
	for n := range touched {
		w := worlds[n]
		slices.SortFunc(w.Tasklets, func(a, b scheduler.TaskletState) int { return cmp.Compare(a.ID, b.ID) })
	}
	return touched, nil
}

// move is a blocked tasklet's way from world src to world dst.
type move struct {
	src, dst uint16
	wait     uint32
}

// waitsElsewhere reports whether a blocked tasklet in world k waits on a
// channel that world k does not host.
func waitsElsewhere(ts *scheduler.TaskletState, k uint16, hostOf map[uint16]uint16) bool {
	for _, c := range ts.Cases {
		if c.Dir != tasklet.DirRecv && c.Dir != tasklet.DirSend {
			continue
		}
		if h, ok := hostOf[c.Chan.Node()]; !ok || h != k {
			return true
		}
	}
	return false
}

// moveWaiters leaves the queue entries of world k as a live migration
// would: a tasklet that left k is a remote waiter there (completed through
// its birth node), one that came to k a local one again.
func moveWaiters(w *scheduler.World, k uint16, moves map[tasklet.ID]move) {
	for i := range w.Channels {
		c := &w.Channels[i]
		for _, q := range [][]scheduler.WaiterState{c.Senders, c.Receivers} {
			for j := range q {
				m, ok := moves[q[j].Tasklet]
				switch {
				case !ok:
				case !q[j].Remote && m.src == k:
					q[j].Remote, q[j].Node, q[j].Seq = true, q[j].Tasklet.Node(), m.wait
				case q[j].Remote && m.dst == k:
					q[j].Remote, q[j].Node, q[j].Seq = false, 0, 0
				}
			}
		}
	}
}

// moveTimers moves the timers of the moved tasklets with them, with the
// time they had left on their new world's clock. A world's timers are then
// in deadline order, ties as they were (the world's own first, then the
// moved ones in the order of the moves), and numbered again.
func moveTimers(worlds map[uint16]*scheduler.World, moves map[tasklet.ID]move, order []tasklet.ID) {
	byTasklet := map[tasklet.ID][]scheduler.TimerState{}
	for k, src := range worlds {
		src.Timers = slices.DeleteFunc(src.Timers, func(tm scheduler.TimerState) bool {
			m, ok := moves[tm.Tasklet]
			if !ok || m.src != k {
				return false
			}
			tm.At += worlds[m.dst].Clock - src.Clock
			byTasklet[tm.Tasklet] = append(byTasklet[tm.Tasklet], tm)
			return true
		})
	}
	if len(byTasklet) == 0 {
		return
	}
	got := map[uint16]bool{}
	for _, id := range order {
		if tms := byTasklet[id]; len(tms) > 0 {
			dst := worlds[moves[id].dst]
			dst.Timers = append(dst.Timers, tms...)
			got[moves[id].dst] = true
		}
	}
	for n := range got {
		dst := worlds[n]
		slices.SortStableFunc(dst.Timers, func(a, b scheduler.TimerState) int { return cmp.Compare(a.At, b.At) })
		for i := range dst.Timers {
			dst.Timers[i].Seq = uint64(i + 1)
		}
		dst.TimerSeq = uint64(len(dst.Timers))
	}
}

// localizeGroup turns the remote waiters of worlds about to be merged into
// local ones when their tasklet is in the group. scheduler.Merge does the
// same by world node, which misses tasklets born on logical nodes that an
// earlier restore had merged already.
func localizeGroup(group []*scheduler.World) {
	here := map[tasklet.ID]bool{}
	for _, w := range group {
		for _, ts := range w.Tasklets {
			here[ts.ID] = true
		}
	}
	for _, w := range group {
		for i := range w.Channels {
			c := &w.Channels[i]
			for _, q := range [][]scheduler.WaiterState{c.Senders, c.Receivers} {
				for j := range q {
					if q[j].Remote && here[q[j].Tasklet] {
						q[j].Remote, q[j].Node, q[j].Seq = false, 0, 0
					}
				}
			}
		}
	}
}
