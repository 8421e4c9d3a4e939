package tasklet_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func runFlows(t *testing.T, s *scheduler.Scheduler) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Run(ctx)
}

func TestGoroutineFlowPingPong(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var got []string
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		for i := range 3 {
			if err := f.Send(ch, i); err != nil {
				return err
			}
		}
		return f.Close(ch)
	}))
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		for {
			v, err := tasklet.RecvAs[int](f, ch)
			if errors.Is(err, channel.ErrClosed) {
				got = append(got, "closed")
				return nil
			}
			if err != nil {
				return err
			}
			got = append(got, fmt.Sprint(v))
		}
	}))
	require.NoError(t, runFlows(t, s))
	assert.Equal(t, []string{"0", "1", "2", "closed"}, got)
}

func TestGoroutineFlowKillIsAnError(t *testing.T) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	var got error
	id := s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		_, got = f.Recv(ch)
		return nil
	}))
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		if err := f.Yield(); err != nil {
			return err
		}
		return f.Host().Kill(id, false)
	}))
	require.NoError(t, runFlows(t, s))
	assert.ErrorIs(t, got, tasklet.ErrKilled)
}

func TestGoroutineFlowFailAndPanic(t *testing.T) {
	boom := errors.New("boom")
	s := scheduler.New()
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		if err := f.Yield(); err != nil {
			return err
		}
		return boom
	}))
	err := runFlows(t, s)
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, err, scheduler.ErrTaskletFailed)

	s = scheduler.New()
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error { panic("in the flow") }))
	err = runFlows(t, s)
	assert.ErrorIs(t, err, scheduler.ErrTaskletPanic)
	assert.ErrorContains(t, err, "in the flow")
}

// dropper drops the error of its Recv; the line of that call is registered
// as a drop site below, as generated code does.
func dropper(f *tasklet.Flow, ch tasklet.ChanID, after *bool) error {
	_, _ = f.Recv(ch) // the drop site
	*after = true
	return f.Yield()
}

// lineOf is the line of this file that contains marker.
func lineOf(t *testing.T, marker string) int {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, marker) && !strings.Contains(l, "lineOf") {
			return i + 1
		}
	}
	t.Fatalf("no line with %q in %s", marker, file)
	return 0
}

func TestGoroutineFlowDroppedErrorEndsTasklet(t *testing.T) {
	tasklet.RegisterDropped("github.com/stackless-go/stackless/tasklet_test.dropper", lineOf(t, "// the drop site"))
	s := scheduler.New()
	ch := s.NewChannel(0)
	boom := errors.New("sent error")
	var after, yielded bool
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error {
		err := dropper(f, ch, &after)
		yielded = true
		return err
	}))
	s.Spawn(tasklet.Goroutine(func(f *tasklet.Flow) error { return f.SendErr(ch, boom) }))
	err := runFlows(t, s)
	assert.ErrorIs(t, err, boom, "the unread error ends the tasklet")
	assert.NotErrorIs(t, err, scheduler.ErrTaskletFailed, "it ends as an uncaught error, not a Fail")
	assert.True(t, after, "the code runs on to the next suspension point")
	assert.False(t, yielded, "and stops there")
}

func TestLoweredFlowRefusesBlockingCalls(t *testing.T) {
	f := tasklet.Lowered(nil)
	_, err := f.Recv(1)
	assert.ErrorIs(t, err, tasklet.ErrNotLowered)
	assert.ErrorIs(t, f.Send(1, 2), tasklet.ErrNotLowered)
	assert.ErrorIs(t, f.Yield(), tasklet.ErrNotLowered)
	_, _, err = f.Select(tasklet.DefaultCase())
	assert.ErrorIs(t, err, tasklet.ErrNotLowered)
}
