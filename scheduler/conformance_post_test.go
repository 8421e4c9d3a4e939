package scheduler_test

// Conformance tests of DESIGN.md "Semantics": Hold, Post and Do.

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Hold and Post

func TestHoldWaitsForPost(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	start := make(chan struct{})
	release := s.Hold()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		s.Post(ch, 42)
		release()
	}()
	var got any
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			close(start) // the poster may go now: the run queue is about to empty
			return t.Recv(ch)
		},
		func(t *tasklet.T) tasklet.Op { got = t.Value(); return t.Exit() }))
	require.NoError(t, s.Run(t.Context()), "an empty run queue under Hold waits for input")
	wg.Wait()
	assert.Equal(t, 42, got)

	// Without a hold the same wait is a deadlock.
	s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(ch) }))
	assert.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
}

func TestHoldRespectsContext(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	release := s.Hold()
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op {
		cancel()
		return t.Recv(ch)
	}))
	assert.ErrorIs(t, s.Run(ctx), context.Canceled)
}

// ---------------------------------------------------------------------------
// Post and Do

func TestPostFromManyGoroutines(t *testing.T) {
	const goroutines, per = 8, 200
	for _, capacity := range []int{0, 4} {
		t.Run(fmt.Sprintf("cap %d", capacity), func(t *testing.T) {
			s := scheduler.New()
			ch := s.NewChannel(capacity)
			release := s.Hold()
			got := make(map[int]int)
			s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
				if t.Steps() > 1 {
					got[t.Value().(int)]++
				}
				if len(got) == goroutines*per {
					return t.Exit()
				}
				return t.Recv(ch)
			}))
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						s.Post(ch, g*per+i)
					}
				}()
			}
			go func() { wg.Wait(); release() }()
			require.NoError(t, s.Run(t.Context()))
			wg.Wait()
			assert.Len(t, got, goroutines*per)
			for v, n := range got {
				require.Equal(t, 1, n, "value %d received %d times", v, n)
			}
		})
	}
}

func TestPostToFullBufferWaits(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(1)
	for i := 1; i <= 5; i++ {
		s.Post(ch, i)
	}
	require.NoError(t, s.Run(t.Context()), "posted values waiting are not a deadlock")
	info, ok := s.ChannelInfo(ch)
	require.True(t, ok)
	assert.Equal(t, 1, info.Len)
	assert.Equal(t, 4, info.Balance, "four posted values wait like blocked senders")
	assert.Equal(t, []tasklet.ID{0, 0, 0, 0}, info.Senders)
	var got []any
	s.Spawn(fn(func(t *tasklet.T) tasklet.Op {
		if t.Steps() > 1 {
			got = append(got, t.Value())
		}
		if len(got) == 5 {
			return t.Exit()
		}
		return t.Recv(ch)
	}))
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []any{1, 2, 3, 4, 5}, got, "none lost, in order")
}

func TestPostToClosedChannelIsReported(t *testing.T) {
	var handled []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { handled = append(handled, err) }))
	ch := s.NewChannel(0)
	s.Post(ch, 1) // waits as a posted sender
	require.NoError(t, s.Run(t.Context()))
	require.Equal(t, 1, s.Balance(ch))
	require.NoError(t, s.Close(ch))
	s.Post(ch, 2)
	require.NoError(t, s.Run(t.Context()))
	assert.Len(t, handled, 2, "both the dropped waiting value and the late post are reported")
}

func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return strings.Fields(string(buf[:n]))[1]
}

func TestDoRunsOnSchedulerGoroutine(t *testing.T) {
	tt := t
	s := scheduler.New()
	ch := s.NewChannel(0)
	release := s.Hold()
	var stepG, doG string
	var current tasklet.ID = 99
	start := make(chan struct{})
	done := make(chan struct{})
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op {
			stepG = goroutineID()
			close(start)
			return t.Recv(ch)
		},
		func(t *tasklet.T) tasklet.Op {
			assert.Equal(tt, "from Do", t.Value())
			return t.Exit()
		}))
	go func() {
		defer close(done)
		<-start
		s.Do(func(s *scheduler.Scheduler) {
			doG = goroutineID()
			current = s.Current()
			// Any method may be called: hand the value over directly.
			s.PostLocal(ch, "from Do")
		})
		release()
	}()
	require.NoError(t, s.Run(t.Context()))
	<-done
	assert.Equal(t, stepG, doG, "Do ran on the goroutine that runs the steps")
	assert.Equal(t, tasklet.ID(0), current, "between two steps")
}
