package ipc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	t.Cleanup(cancel)
	return ctx
}

// mover migrates one tasklet around a cluster, remembering where it is.
type mover struct {
	c     *cluster
	id    tasklet.ID
	at    int // node index
	moves int
}

// to moves the tasklet to node index i; false when it has finished.
func (m *mover) to(t *testing.T, i int) bool {
	t.Helper()
	err := m.c.nodes[m.at].Migrate(testCtx(t), m.id, uint16(i+1))
	if errors.Is(err, scheduler.ErrDead) || errors.Is(err, scheduler.ErrNoTasklet) {
		return false
	}
	require.NoError(t, err)
	m.at = i
	m.moves++
	return true
}

func TestMigrateMidExecutionMatchesASingleProcess(t *testing.T) {
	// A consumer receives 300 values. Spread over three nodes it is moved
	// ten times while blocked (half-way, its producer waits for a go), then
	// around the ring as long as it runs. It must receive exactly what a
	// single process gives it.
	moved := 0
	res := compare(t, 3, func(c *cluster) map[string]Result {
		ch, goCh := c.ch(0, 0), c.ch(0, 0)
		producer := append(sendRange(ch, 1, 150), recv(goCh))
		producer = append(producer, sendRange(ch, 151, 300)...)
		id := c.prog(1, "consumer", recvN(ch, 300)...)
		c.prog(0, "producer", producer...)
		c.waitBalance(goCh, -1)
		c.waitBalance(ch, -1)
		m := &mover{c: c, id: id, at: c.at(1)}
		if len(c.nodes) > 1 {
			for k := range 10 {
				require.True(t, m.to(t, (m.at+1)%3), "move %d", k)
				assert.Equal(t, -1, c.balance(ch), "a blocked tasklet keeps its place in the queue")
			}
		}
		require.NoError(t, c.nodes[0].Post(goCh, 0))
		for len(c.nodes) > 1 && m.moves < 200 && m.to(t, (m.at+1)%3) {
		}
		moved = m.moves
		return withBalances(c, c.collect(2), ch, goCh)
	})
	assert.Equal(t, ints(1, 300), res["consumer"].Got)
	assert.GreaterOrEqual(t, moved, 10)
}

func TestMigratingABlockedTaskletKeepsItsPlace(t *testing.T) {
	c := newCluster(t, 3)
	ch := c.ch(0, 0)
	id := c.prog(1, "first", recv(ch))
	c.waitBalance(ch, -1)
	c.prog(0, "second", recv(ch))
	c.waitBalance(ch, -2)
	m := &mover{c: c, id: id, at: 1}
	for _, to := range []int{2, 0, 1, 0, 2} { // via the home and back out
		require.True(t, m.to(t, to))
		assert.Equal(t, -2, c.balance(ch), "after the move to node index %d", to)
	}
	c.prog(1, "sender", send(ch, 1), send(ch, 2))
	res := c.collect(3)
	assert.Equal(t, []int{1}, res["first"].Got, "the migrated tasklet was first in the queue")
	assert.Equal(t, []int{2}, res["second"].Got)
	assert.Zero(t, c.balance(ch))
}

func TestMigrateATaskletInAMixedSelect(t *testing.T) {
	c := newCluster(t, 3)
	a, b := c.ch(0, 0), c.ch(1, 0)
	id := c.prog(1, "sel", sel(SelCase{Ch: a}, SelCase{Ch: b}))
	c.waitBalance(a, -1)
	c.waitBalance(b, -1)
	m := &mover{c: c, id: id, at: 1}
	require.True(t, m.to(t, 2)) // b's entry on node 1 becomes a remote waiter for node 2
	c.prog(1, "feed", send(b, 4))
	res := c.collect(2)
	assert.Equal(t, []int{4}, res["sel"].Got)
	assert.Equal(t, []string{"chosen:1"}, res["sel"].Log)
	c.waitBalance(a, 0) // the other case was withdrawn at its home
}

func TestMigrateASleepingTaskletKeepsItsTimer(t *testing.T) {
	var ranOn [2]atomic.Int32
	var id atomic.Uint64
	hooks := func(i int) func(prev, next tasklet.ID) {
		return func(_, next tasklet.ID) {
			if uint64(next) == id.Load() {
				ranOn[i].Add(1)
			}
		}
	}
	c := newCluster(t, 2, clusterConfig{clocks: realClocks, hooks: hooks})
	var tid tasklet.ID
	c.on(0, func(s *scheduler.Scheduler) {
		tid = s.Spawn(&Prog{Name: "sleeper", Code: []Instr{{Op: "sleep", D: 500 * time.Millisecond}}, Results: c.resCh})
		id.Store(uint64(tid))
	})
	c.waitFor("the sleeper to sleep", func() bool {
		var st tasklet.State
		c.on(0, func(s *scheduler.Scheduler) {
			in, _ := s.Info(tid)
			st = in.State
		})
		return st == tasklet.Sleeping
	})
	require.NoError(t, c.nodes[0].Migrate(testCtx(t), tid, 2))
	res := c.collect(1)
	assert.Empty(t, res["sleeper"].Log)
	assert.Equal(t, int32(1), ranOn[0].Load(), "one step on node 1: the sleep")
	assert.Positive(t, ranOn[1].Load(), "the wake-up ran on node 2")
}

func TestATaskletNeverRunsOnTwoNodes(t *testing.T) {
	// A Hopper yields N times while it is moved around three nodes; each
	// node counts the steps it ran it. Together they ran it exactly as
	// often as it stepped, and it reported once.
	const n = 200_000
	var steps [3]atomic.Int64
	var id atomic.Uint64
	hooks := func(i int) func(prev, next tasklet.ID) {
		return func(_, next tasklet.ID) {
			if uint64(next) == id.Load() {
				steps[i].Add(1)
			}
		}
	}
	c := newCluster(t, 3, clusterConfig{hooks: hooks})
	var tid tasklet.ID
	c.on(0, func(s *scheduler.Scheduler) {
		tid = s.SpawnPaused(&Hopper{Name: "hopper", N: n, Results: c.resCh})
		id.Store(uint64(tid))
		require.NoError(t, s.Insert(tid))
	})
	m := &mover{c: c, id: tid, at: 0}
	for m.moves < 100 && m.to(t, (m.at+1)%3) {
	}
	res := c.collect(1)
	var total int64
	for i := range steps {
		total += steps[i].Load()
	}
	// Steps 1..n yield (one switch each); step n+1 sends the report and
	// step n+2 exits, in the same switch when the send completes at once.
	assert.Equal(t, n+1, res["hopper"].Steps)
	assert.Contains(t, []int64{n + 1, n + 2}, total, "steps counted per node: %d, %d, %d", steps[0].Load(), steps[1].Load(), steps[2].Load())
	select {
	case r := <-c.results:
		t.Fatalf("a second report: %+v", r)
	default:
	}
	t.Logf("%d moves; steps per node %d, %d, %d", m.moves, steps[0].Load(), steps[1].Load(), steps[2].Load())
}

func TestAStaleMigrateIsRefused(t *testing.T) {
	c := newCluster(t, 2)
	x := c.ch(0, 0)
	id := c.prog(0, "r", recv(x))
	c.waitBalance(x, -1)
	m := &mover{c: c, id: id, at: 0}
	require.True(t, m.to(t, 1)) // epoch 1
	require.True(t, m.to(t, 0)) // epoch 2: node 1 has seen it
	var raw []byte
	c.on(0, func(s *scheduler.Scheduler) {
		ts, err := s.TaskletState(id)
		require.NoError(t, err)
		raw, err = c.reg.DumpTasklet(&ts)
		require.NoError(t, err)
	})
	// Node 0 replays an old move to node 1, as a stale owner would.
	for _, epoch := range []uint64{1, 2} {
		require.NoError(t, c.nodes[0].link(2).send(&message{Kind: kMigrate, Epoch: epoch, Raw: raw}))
		c.logs.wait(t, "migration refused", ErrStaleEpoch.Error(), fmt.Sprint("epoch=", epoch))
	}
	c.on(1, func(s *scheduler.Scheduler) { assert.Nil(t, s.Behavior(id), "no second copy on node 2") })
	c.on(0, func(s *scheduler.Scheduler) { assert.NotNil(t, s.Behavior(id)) })
	c.prog(1, "s", send(x, 6))
	assert.Equal(t, []int{6}, c.collect(2)["r"].Got)
}

func TestARefusedMigrationLeavesTheTaskletRunning(t *testing.T) {
	regs := func(i int) *pickle.Registry {
		if i == 0 {
			return testRegistry()
		}
		reg := pickle.NewRegistry() // node 2 does not know the hopper kind
		require.NoError(t, pickle.RegisterValue[Result](reg, "ipctest.Result"))
		return reg
	}
	c := newCluster(t, 2, clusterConfig{regs: regs})
	var id tasklet.ID
	c.on(0, func(s *scheduler.Scheduler) { id = s.SpawnPaused(&Hopper{Name: "hopper", N: 500, Results: c.resCh}) })
	err := c.nodes[0].Migrate(testCtx(t), id, 2)
	require.ErrorIs(t, err, ErrRefused)
	assert.ErrorContains(t, err, "ipctest.hopper")
	c.on(0, func(s *scheduler.Scheduler) {
		require.NoError(t, s.Insert(id), "it is back on node 1, paused as it left")
	})
	assert.Equal(t, 501, c.collect(1)["hopper"].Steps)
}

func TestMigrateErrors(t *testing.T) {
	c := newCluster(t, 3, clusterConfig{noLinks: true})
	require.NoError(t, ConnectPair(c.nodes[0], c.nodes[1]))
	id := c.spawn(0, &Hopper{Name: "h", N: 1 << 30})
	ctx := testCtx(t)
	assert.ErrorIs(t, c.nodes[0].Migrate(ctx, id, 3), ErrNoRoute)
	assert.ErrorIs(t, c.nodes[0].Migrate(ctx, tasklet.ID(12345), 2), scheduler.ErrNoTasklet)
	assert.ErrorContains(t, c.nodes[0].Migrate(ctx, id, 1), "this node")
	c.on(0, func(s *scheduler.Scheduler) { require.NoError(t, s.Kill(id, false)) })
}
