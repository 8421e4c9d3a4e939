package scheduler_test

// Conformance tests of DESIGN.md "Semantics": the watchdog (RunBudget).

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Watchdog (RunBudget, reference §1.5)

func TestRunBudgetTimesliceHard(t *testing.T) {
	s := scheduler.New()
	busy := s.Spawn(busyN(100)) // 101 steps: 100 Continue and the Exit
	coop := s.Spawn(yieldN(new(logger), "c", 100))
	interrupts := 0
	for {
		id, err := s.RunBudget(t.Context(), 5, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		interrupts++
		require.Equal(t, busy, id, "only the busy tasklet is ever interrupted, never %v", coop)
		info, err := s.Info(id)
		require.NoError(t, err)
		assert.Equal(t, tasklet.Paused, info.State, "the victim is paused")
		assert.NotContains(t, s.RunQueue(), id, "the victim is out of the run queue")
		assert.Equal(t, uint64(5*interrupts), info.Steps, "the victim ran exactly one timeslice per switch")
		require.NoError(t, s.Insert(id))
		assert.Equal(t, id, s.RunQueue()[len(s.RunQueue())-1], "Insert puts it at the back")
	}
	assert.Equal(t, 20, interrupts)
	assert.Zero(t, s.Len(), "everything finished")
}

func TestRunBudgetCooperativeNeverVictimAfterAtomic(t *testing.T) {
	// An atomic tasklet overruns its slice (the interrupt is deferred), then
	// leaves atomic mode and yields in the same step. The deferred interrupt
	// belongs to its slice; the next, cooperative tasklet gets a fresh slice.
	s := scheduler.New()
	atomicT := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		switch n := t.Steps(); {
		case n == 1:
			t.SetAtomic(true)
			return t.Continue()
		case n < 10:
			return t.Continue()
		case n == 10:
			t.SetAtomic(false)
			return t.Yield()
		case n < 20:
			return t.Yield()
		}
		return t.Exit()
	}))
	coop := s.Spawn(yieldN(new(logger), "c", 20))
	for {
		id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		assert.NotEqual(t, coop, id, "a cooperative tasklet must never be the victim")
		assert.NotEqual(t, atomicT, id, "the atomic tasklet yielded as soon as it left atomic mode")
		require.NoError(t, s.Insert(id))
	}
	assert.Zero(t, s.Len())
}

func TestRunBudgetAtomicNeverInterrupted(t *testing.T) {
	tt := t
	s := scheduler.New()
	var l logger
	a := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		n := t.Steps()
		switch {
		case n == 1:
			t.SetAtomic(true)
		case n == 21:
			assert.True(tt, t.SetAtomic(false), "SetAtomic returns the old setting")
		case n > 30:
			return t.Exit()
		}
		l.add("A%d", n)
		return t.Continue()
	}))
	s.Spawn(yieldN(&l, "B", 5))
	id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
	require.NoError(t, err)
	require.Equal(t, a, id)
	info, err := s.Info(a)
	require.NoError(t, err)
	assert.Equal(t, uint64(21), info.Steps, "interrupted at the first check after leaving atomic mode")
	assert.False(t, info.Atomic)
	var atomicSection []string
	for i := 1; i <= 21; i++ {
		atomicSection = append(atomicSection, fmt.Sprintf("A%d", i))
	}
	assert.Equal(t, atomicSection, l.entries, "the atomic section is never split")
	require.NoError(t, s.Insert(a))
	for {
		id, err := s.RunBudget(t.Context(), 3, scheduler.Timeslice)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		require.NoError(t, s.Insert(id))
	}
	assert.Zero(t, s.Len())
}

func TestRunBudgetTotal(t *testing.T) {
	for _, n := range []int{1, 7, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := scheduler.New()
			s.Spawn(yieldN(new(logger), "a", 30))
			s.Spawn(yieldN(new(logger), "b", 30))
			s.Spawn(busyN(30))
			before := s.Steps()
			id, err := s.RunBudget(t.Context(), n, scheduler.Total)
			require.NoError(t, err)
			require.NotZero(t, id)
			assert.Equal(t, before+uint64(n), s.Steps(), "exactly n steps in all")
			info, err := s.Info(id)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Paused, info.State)
			assert.NotContains(t, s.RunQueue(), id)
			require.NoError(t, s.Insert(id))
			total := uint64(n)
			for {
				before := s.Steps()
				id, err := s.RunBudget(t.Context(), n, scheduler.Total)
				require.NoError(t, err)
				total += s.Steps() - before
				if id == 0 {
					break
				}
				assert.Equal(t, uint64(n), s.Steps()-before)
				require.NoError(t, s.Insert(id))
			}
			assert.Zero(t, s.Len())
			assert.Equal(t, uint64(31+31+31), total, "every step of every tasklet ran once")
		})
	}
}

func TestRunBudgetSoft(t *testing.T) {
	s := scheduler.New()
	// B runs 10 steps, yielding only at the 10th, forever.
	b := s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps()%10 == 0 {
			return t.Yield()
		}
		return t.Continue()
	}))
	c := s.Spawn(yieldN(new(logger), "c", 1000))
	id, err := s.RunBudget(t.Context(), 3, scheduler.Soft)
	require.NoError(t, err)
	assert.Zero(t, id, "soft mode returns no victim")
	bi, err := s.Info(b)
	require.NoError(t, err)
	assert.Equal(t, uint64(10), bi.Steps, "soft mode lets B run on to its switch")
	ci, err := s.Info(c)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), ci.Steps, "returned at the switch, before C ran")
	assert.Equal(t, []tasklet.ID{c, b}, s.RunQueue(), "everything stays queued, in order")
	assert.Equal(t, tasklet.Runnable, bi.State)

	// Soft + Total: returns at the first switch after n steps in all.
	before := s.Steps()
	id, err = s.RunBudget(t.Context(), 4, scheduler.Soft|scheduler.Total)
	require.NoError(t, err)
	assert.Zero(t, id)
	assert.Equal(t, before+1+10, s.Steps(), "C steps once, then B runs on past the budget to its switch")
	assert.Equal(t, 2, s.RunCount())
	require.NoError(t, s.Kill(b, false))
	require.NoError(t, s.Kill(c, false))
	require.NoError(t, s.Run(t.Context()))
}

// sendRecvClient sends N values on Ch, doing Busy Continue steps before each.
type sendRecvClient struct {
	Ch   channel.ID
	Base int
	N    int
	Busy int
	sent int
	busy int
}

func (c *sendRecvClient) Step(t *tasklet.T) tasklet.Op {
	if c.sent == c.N {
		return t.Exit()
	}
	if c.busy < c.Busy {
		c.busy++
		return t.Continue()
	}
	c.busy = 0
	c.sent++
	return t.Send(c.Ch, c.Base+c.sent)
}

func TestWatchdogSendRecv(t *testing.T) {
	// Stackless test_watchdog.py test_send_recv: a server counts exactly 60
	// messages from 3 clients x 20 sends under a watchdog autoschedule loop.
	s := scheduler.New()
	ch := s.NewChannel(0)
	got := map[int]int{}
	count := 0
	receiving := false
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if receiving {
			got[t.Value().(int)]++
			count++
			receiving = false
		}
		if count == 60 {
			return t.Exit()
		}
		if t.Steps()%3 == 0 {
			return t.Continue() // a busy server too
		}
		receiving = true
		return t.Recv(ch)
	}))
	for i := range 3 {
		s.Spawn(&sendRecvClient{Ch: ch, Base: 100 * i, N: 20, Busy: 9})
	}
	interrupts := 0
	for {
		id, err := s.RunBudget(t.Context(), 7, 0)
		require.NoError(t, err)
		if id == 0 {
			break
		}
		interrupts++
		require.NoError(t, s.Insert(id))
	}
	assert.Equal(t, 60, count)
	assert.Len(t, got, 60, "every message arrived exactly once")
	for v, n := range got {
		assert.Equal(t, 1, n, "value %d", v)
	}
	assert.Positive(t, interrupts, "the busy clients were interrupted")
	assert.Zero(t, s.Len())
}
