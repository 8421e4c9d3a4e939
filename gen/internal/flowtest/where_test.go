package flowtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

const here = "github.com/stackless-go/stackless/gen/internal/flowtest."

// markerLine is the line of file holding the comment "// where: marker",
// so that the test follows the source when lines move.
func markerLine(t *testing.T, file, marker string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, "// where: "+marker) {
			return i + 1
		}
	}
	require.Failf(t, "no marker", "%s has no comment // where: %s", file, marker)
	return 0
}

// A tasklet suspended frames deep says, frame by frame, the source line it
// waits at, and a copy restored from a save says the same.
func TestWhereNamesEachSuspendedFrame(t *testing.T) {
	s := scheduler.New()
	in, out := s.NewChannel(0), s.NewChannel(16)
	id := s.Spawn(flowtest.NewNested(in, out))
	framer, ok := s.Behavior(id).(tasklet.Framer)
	require.True(t, ok, "a generated tasklet implements tasklet.Framer")
	assert.Empty(t, framer.Where(), "a tasklet that has not run is suspended nowhere")

	frame := func(fn, marker, point string) tasklet.Frame {
		return tasklet.Frame{Function: here + fn, File: "constructs.go", Line: markerLine(t, "constructs.go", marker), Point: point}
	}
	outer := []tasklet.Frame{
		frame("Nested", "Nested calls sumN", "call of sumN"),
		frame("sumN", "sumN calls recvInt", "call of recvInt"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, step := range []struct {
		name string
		last tasklet.Frame
	}{
		{"yielding", frame("recvInt", "recvInt yields", "t.Yield")},
		{"receiving", frame("recvInt", "recvInt receives", "t.RecvAs")},
	} {
		// Blocked on in with nothing else to run, the run ends in a
		// deadlock: that is where this test wants it.
		if _, err := s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft); !errors.Is(err, scheduler.ErrDeadlock) {
			require.NoError(t, err, step.name)
		}
		want := append(append([]tasklet.Frame{}, outer...), step.last)
		assert.Equal(t, want, framer.Where(), step.name)
	}
	last := framer.Where()[2]
	assert.Equal(t, fmt.Sprintf("%srecvInt constructs.go:%d (t.RecvAs)", here, last.Line), last.String())
}

// Locals named where and step do not clash with the methods Where and Step.
func TestWhereLocalKeepsItsValue(t *testing.T) {
	s := scheduler.New()
	out := s.NewChannel(1)
	lk := flowtest.NewLookout(out)
	s.Spawn(lk)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	assert.Equal(t, []tasklet.Frame{{Function: here + "Lookout", File: "lookout.go", Line: markerLine(t, "lookout.go", "Lookout yields"), Point: "t.Yield"}}, lk.Where())
	assert.Equal(t, "tower", lk.Where2, "the local where is the field Where2")
	assert.Equal(t, 2, lk.Step2, "the local step is the field Step2")
	require.NoError(t, s.Run(ctx))
	for _, c := range s.World().Channels {
		if c.ID == out {
			assert.Equal(t, []any{"tower2"}, c.Buffer)
		}
	}
}

// A method flow's frames name the method as the runtime does, with its
// receiver's type (a pointer receiver as (*T)).
func TestWhereNamesMethods(t *testing.T) {
	s := scheduler.New()
	out := s.NewChannel(16)
	id := s.Spawn(flowtest.NewSentryWatch(flowtest.Sentry{Name: "a"}, out))
	framer := s.Behavior(id).(tasklet.Framer)
	frame := func(fn, marker, point string) tasklet.Frame {
		return tasklet.Frame{Function: here + fn, File: "methods.go", Line: markerLine(t, "methods.go", marker), Point: point}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var seen [][]tasklet.Frame
	for s.Len() > 0 && len(seen) < 8 {
		_, err := s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft)
		require.NoError(t, err)
		seen = append(seen, framer.Where())
	}
	assert.Contains(t, seen, []tasklet.Frame{
		frame("Sentry.Watch", "Watch calls patrol", "call of Sentry.patrol"),
		frame("Sentry.patrol", "patrol yields", "t.Yield"),
	})
	assert.Contains(t, seen, []tasklet.Frame{
		frame("Sentry.Watch", "Watch calls heal", "call of Sentry.heal"),
		frame("(*Sentry).heal", "heal yields", "t.Yield"),
	})
}

// A tasklet that calls itself says each level of its recursion, and so
// does its copy restored from a save.
func TestWhereNamesEachLevelOfARecursion(t *testing.T) {
	s := scheduler.New()
	out := s.NewChannel(0) // nobody receives: the bottom level blocks on it
	id := s.Spawn(flowtest.NewCountdown(out, 3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.RunBudget(ctx, 10, scheduler.Total|scheduler.Soft)
	require.ErrorIs(t, err, scheduler.ErrDeadlock)

	call := tasklet.Frame{Function: here + "Countdown", File: "recursion.go", Line: markerLine(t, "recursion.go", "Countdown calls itself"), Point: "call of Countdown"}
	want := []tasklet.Frame{call, call, call,
		{Function: here + "Countdown", File: "recursion.go", Line: markerLine(t, "recursion.go", "Countdown sends at the bottom"), Point: "t.Send"}}
	assert.Equal(t, want, s.Behavior(id).(tasklet.Framer).Where())

	blob, err := pickle.Default.DumpWorld(s.World())
	require.NoError(t, err)
	w, err := pickle.Default.LoadWorld(blob)
	require.NoError(t, err)
	r, err := scheduler.Restore(w)
	require.NoError(t, err)
	assert.Equal(t, want, r.Behavior(id).(tasklet.Framer).Where(), "restored")
}
