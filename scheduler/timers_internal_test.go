package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
	"github.com/stackless-go/stackless/tasklet"
)

type timerFn func(t *tasklet.T) tasklet.Op

func (f timerFn) Step(t *tasklet.T) tasklet.Op { return f(t) }

// A select with a long timeout that is always satisfied by a channel leaves
// a stale timer behind each time. They must not pile up: the heap has to
// stay proportional to the live timers.
func TestStaleTimersDoNotPileUp(t *testing.T) {
	const n = 10_000
	s := New()
	ch := s.NewChannel(0)
	maxLen, got := 0, 0
	s.Spawn(timerFn(func(t *tasklet.T) tasklet.Op {
		maxLen = max(maxLen, s.timers.len())
		if t.Chosen() == 0 {
			got++
		}
		if got == n {
			return t.Exit()
		}
		return t.Select(tasklet.RecvCase(ch), tasklet.TimeoutCase(time.Hour))
	}))
	sent := 0
	s.Spawn(timerFn(func(t *tasklet.T) tasklet.Op {
		if sent == n {
			return t.Exit()
		}
		sent++
		return t.Send(ch, sent)
	}))
	// A live timer that must survive every compaction.
	var woke time.Duration
	s.Spawn(timerFn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() == 1 {
			return t.Sleep(2 * time.Hour)
		}
		woke = t.Now()
		return t.Exit()
	}))
	require.NoError(t, s.Run(context.Background()))
	assert.Equal(t, n, got)
	assert.LessOrEqual(t, maxLen, 64, "stale timers are dropped as the heap fills")
	assert.Equal(t, 2*time.Hour, woke, "the live timer survived")
}

func TestTimerHeapDropStaleKeepsOrder(t *testing.T) {
	var th timerHeap
	mk := func(at time.Duration, seq uint64, live bool) timer {
		tk := (*rec)(core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](seq, nil, nil))
		tk.NextWait()
		tm := timer{at: at, seq: seq, t: tk, wait: tk.WaitSeq(), idx: -1}
		if !live {
			tk.NextWait()
		}
		return tm
	}
	var want []uint64
	for i := range 100 {
		live := i%3 == 0
		at := time.Duration(100-i%10) * time.Second
		th.push(mk(at, uint64(i+1), live))
	}
	for _, tm := range th.h {
		if tm.live() {
			want = append(want, tm.seq)
		}
	}
	th.dropStale()
	require.Len(t, th.h, len(want))
	var prev *timer
	for th.len() > 0 {
		tm := th.pop()
		assert.True(t, tm.live())
		if prev != nil {
			assert.True(t, prev.before(&tm), "pops in (at, seq) order")
		}
		prev = &tm
	}
}
