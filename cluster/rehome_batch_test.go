package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// rehomeOneByOne is rehome as it was, one move at a time, each walking
// every channel and timer of two worlds: the oracle of the batched one.
func rehomeOneByOne(worlds map[uint16]*scheduler.World, hostOf map[uint16]uint16) (map[uint16]bool, error) {
	touched := map[uint16]bool{}
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
			moveOne(ts, src, worlds[home])
			touched[k], touched[home] = true, true
		}
		src.Tasklets = keep
	}
	for n := range touched {
		w := worlds[n]
		slices.SortFunc(w.Tasklets, func(a, b scheduler.TaskletState) int { return cmp.Compare(a.ID, b.ID) })
	}
	return touched, nil
}

// moveOne moves blocked tasklet ts from world src to world dst.
func moveOne(ts scheduler.TaskletState, src, dst *scheduler.World) {
	birth := ts.ID.Node()
	for i := range src.Channels {
		c := &src.Channels[i]
		for _, q := range [][]scheduler.WaiterState{c.Senders, c.Receivers} {
			for j := range q {
				if !q[j].Remote && q[j].Tasklet == ts.ID {
					q[j].Remote, q[j].Node, q[j].Seq = true, birth, ts.Wait
				}
			}
		}
	}
	for i := range dst.Channels {
		c := &dst.Channels[i]
		for _, q := range [][]scheduler.WaiterState{c.Senders, c.Receivers} {
			for j := range q {
				if q[j].Remote && q[j].Tasklet == ts.ID {
					q[j].Remote, q[j].Node, q[j].Seq = false, 0, 0
				}
			}
		}
	}
	var moved []scheduler.TimerState
	src.Timers = slices.DeleteFunc(src.Timers, func(tm scheduler.TimerState) bool {
		if tm.Tasklet == ts.ID {
			tm.At += dst.Clock - src.Clock // the time it had left, on dst's clock
			moved = append(moved, tm)
			return true
		}
		return false
	})
	if len(moved) > 0 {
		dst.Timers = append(dst.Timers, moved...)
		slices.SortStableFunc(dst.Timers, func(a, b scheduler.TimerState) int { return cmp.Compare(a.At, b.At) })
		for i := range dst.Timers {
			dst.Timers[i].Seq = uint64(i + 1)
		}
		dst.TimerSeq = uint64(len(dst.Timers))
	}
	dst.Tasklets = append(dst.Tasklets, ts)
}

// randomWorlds makes worlds of nodes 1 to 3, node 4 hosted by world 1
// (an earlier restore merged it), with blocked tasklets waiting on the
// channels of any node, queue entries for them, and timers.
func randomWorlds(r *rand.Rand, n int) (map[uint16]*scheduler.World, map[uint16]uint16) {
	hostOf := map[uint16]uint16{1: 1, 2: 2, 3: 3, 4: 1}
	worlds := map[uint16]*scheduler.World{}
	for node := uint16(1); node <= 3; node++ {
		worlds[node] = &scheduler.World{Node: node, Clock: time.Duration(r.IntN(10_000))}
	}
	nodes := []uint16{1, 2, 3, 4}
	chans := map[uint16][]channel.ID{}
	for _, node := range nodes {
		w := worlds[hostOf[node]]
		for i := range 1 + r.IntN(n) {
			id := channel.ID(uint64(node)<<48 | uint64(i+1))
			chans[node] = append(chans[node], id)
			w.Channels = append(w.Channels, scheduler.ChannelState{ID: id})
		}
	}
	chanAt := func(id channel.ID) *scheduler.ChannelState {
		w := worlds[hostOf[id.Node()]]
		for i := range w.Channels {
			if w.Channels[i].ID == id {
				return &w.Channels[i]
			}
		}
		panic("no channel")
	}
	next := map[uint16]uint64{}
	for range n {
		birth := nodes[r.IntN(len(nodes))]
		next[birth]++
		id := tasklet.ID(uint64(birth)<<48 | next[birth])
		at := uint16(1 + r.IntN(3)) // where it runs now: home, or moved by the balancer
		w := worlds[at]
		ts := scheduler.TaskletState{ID: id, State: tasklet.Blocked, Wait: uint32(r.IntN(100))}
		if r.IntN(5) == 0 {
			ts.State = tasklet.Runnable
		}
		for c := range 1 + r.IntN(3) {
			on := nodes[r.IntN(len(nodes))]
			ch := chans[on][r.IntN(len(chans[on]))]
			cs := tasklet.RecvCase(ch)
			if c == 1 {
				cs = tasklet.SendCase(ch, nil)
			}
			ts.Cases = append(ts.Cases, cs)
			if ts.State == tasklet.Blocked {
				q := &chanAt(ch).Receivers
				if c == 1 {
					q = &chanAt(ch).Senders
				}
				remote := hostOf[ch.Node()] != at
				e := scheduler.WaiterState{Tasklet: id, Case: c, Remote: remote}
				if remote {
					e.Node, e.Seq = birth, ts.Wait
				}
				*q = append(*q, e)
			}
		}
		if r.IntN(2) == 0 {
			ts.Cases = append(ts.Cases, tasklet.TimeoutCase(time.Second))
			w.Timers = append(w.Timers, scheduler.TimerState{At: w.Clock + time.Duration(r.IntN(50)), Tasklet: id, Case: len(ts.Cases) - 1})
		}
		w.Tasklets = append(w.Tasklets, ts)
	}
	for _, w := range worlds {
		slices.SortFunc(w.Tasklets, func(a, b scheduler.TaskletState) int { return cmp.Compare(a.ID, b.ID) })
		slices.SortStableFunc(w.Timers, func(a, b scheduler.TimerState) int { return cmp.Compare(a.At, b.At) })
		for i := range w.Timers {
			w.Timers[i].Seq = uint64(i + 1)
		}
		w.TimerSeq = uint64(len(w.Timers))
	}
	return worlds, hostOf
}

func cloneWorlds(ws map[uint16]*scheduler.World) map[uint16]*scheduler.World {
	out := map[uint16]*scheduler.World{}
	for k, w := range ws {
		c := *w
		c.Tasklets = slices.Clone(w.Tasklets)
		c.Timers = slices.Clone(w.Timers)
		c.Channels = slices.Clone(w.Channels)
		for i := range c.Channels {
			c.Channels[i].Senders = slices.Clone(c.Channels[i].Senders)
			c.Channels[i].Receivers = slices.Clone(c.Channels[i].Receivers)
		}
		out[k] = &c
	}
	return out
}

// The batched rehome leaves every world as moving one tasklet at a time
// did: the same tasklets, queue entries and timers in the same order. The
// timers' sequence numbers may differ where a world both gave and took
// timers (one at a time left gaps), so they are checked for order only.
func TestRehomeBatchedIsRehomeOneByOne(t *testing.T) {
	moved := 0
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		worlds, hostOf := randomWorlds(r, 1+r.IntN(40))
		want := cloneWorlds(worlds)
		wantTouched, err := rehomeOneByOne(want, hostOf)
		require.NoError(t, err)
		touched, err := rehome(worlds, hostOf)
		require.NoError(t, err)
		require.Equal(t, wantTouched, touched, "seed %d", seed)
		moved += len(touched)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			w, g := want[k], worlds[k]
			require.Equal(t, w.Tasklets, g.Tasklets, "seed %d world %d", seed, k)
			require.Equal(t, w.Channels, g.Channels, "seed %d world %d", seed, k)
			require.Equal(t, timerOrder(w.Timers), timerOrder(g.Timers), "seed %d world %d", seed, k)
			for i := 1; i < len(g.Timers); i++ {
				require.Less(t, g.Timers[i-1].Seq, g.Timers[i].Seq, "seed %d world %d", seed, k)
			}
			if len(g.Timers) > 0 {
				require.GreaterOrEqual(t, g.TimerSeq, g.Timers[len(g.Timers)-1].Seq)
			}
		}
	}
	require.Greater(t, moved, 300, "the worlds had waiters to move")
}

func timerOrder(tms []scheduler.TimerState) []string {
	out := make([]string, len(tms))
	for i, tm := range tms {
		out[i] = fmt.Sprintf("%v %v %d", tm.At, tm.Tasklet, tm.Case)
	}
	return out
}

// BenchmarkRehome rehomes 20,000 waiters that the balancer moved away from
// the channels they wait on, among 20,000 channels a world.
func BenchmarkRehome(b *testing.B) {
	const n = 20_000
	mk := func() map[uint16]*scheduler.World {
		home := &scheduler.World{Node: 1}
		away := &scheduler.World{Node: 2}
		for i := range n {
			ch := channel.ID(1<<48 | uint64(i+1))
			id := tasklet.ID(1<<48 | uint64(i+1))
			home.Channels = append(home.Channels, scheduler.ChannelState{ID: ch,
				Receivers: []scheduler.WaiterState{{Tasklet: id, Remote: true, Node: 1, Seq: 1}}})
			away.Channels = append(away.Channels, scheduler.ChannelState{ID: channel.ID(2<<48 | uint64(i+1))})
			away.Tasklets = append(away.Tasklets, scheduler.TaskletState{ID: id, State: tasklet.Blocked, Wait: 1,
				Cases: []tasklet.Case{tasklet.RecvCase(ch)}})
		}
		return map[uint16]*scheduler.World{1: home, 2: away}
	}
	hostOf := map[uint16]uint16{1: 1, 2: 2}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ws := mk()
		b.StartTimer()
		if _, err := rehome(ws, hostOf); err != nil {
			b.Fatal(err)
		}
		if len(ws[1].Tasklets) != n {
			b.Fatalf("%d of %d waiters came home", len(ws[1].Tasklets), n)
		}
	}
}
