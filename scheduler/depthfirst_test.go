package scheduler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Spawn appends at the back of the run queue (Stackless round robin); with
// WithDepthFirst a new tasklet goes to the front, the newest first.
func TestSpawnOrder(t *testing.T) {
	cases := []struct {
		name string
		opts []scheduler.Option
		want []string
	}{
		{"round robin", nil, []string{"X", "P", "A", "B"}},
		{"depth first", []scheduler.Option{scheduler.WithDepthFirst()}, []string{"P", "B", "A", "X"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New(tc.opts...)
			l := &logger{}
			leaf := func(name string) tasklet.Behavior { return steps(logStep(l, name, exit)) }
			s.Spawn(leaf("X"))
			s.Spawn(steps(logStep(l, "P", func(t *tasklet.T) tasklet.Op {
				t.Spawn(leaf("A"))
				t.Spawn(leaf("B"))
				return t.Exit()
			})))
			require.NoError(t, s.Run(context.Background()))
			assert.Equal(t, tc.want, l.entries)
		})
	}
}

// tree is a Skynet node: a leaf sends its number up; a parent spawns Div
// children, sums what they send and sends the sum up. Each step notes how
// many tasklets are alive.
type tree struct {
	Num, Size, Div int64
	Out, In        tasklet.ChanID
	Sum, Got       int64
	s              *scheduler.Scheduler
	peak           *int
	prefer         bool // channels with preference 1: the sender goes on
}

func (k *tree) Step(t *tasklet.T) tasklet.Op {
	*k.peak = max(*k.peak, k.s.Len())
	switch {
	case t.Steps() == 1 && k.Size == 1:
		return t.Send(k.Out, k.Num)
	case t.Steps() == 1:
		k.In = t.NewChannel(0)
		if k.prefer {
			k.s.Channel(k.In).SetPreference(channel.PreferSender)
		}
		sub := k.Size / k.Div
		for i := range k.Div {
			t.Spawn(&tree{Num: k.Num + i*sub, Size: sub, Div: k.Div, Out: k.In, s: k.s, peak: k.peak, prefer: k.prefer})
		}
		return t.Recv(k.In)
	case k.Size > 1 && k.Got < k.Div:
		k.Sum += t.Value().(int64)
		k.Got++
		if k.Got < k.Div {
			return t.Recv(k.In)
		}
		return t.Send(k.Out, k.Sum)
	}
	return t.Exit()
}

// With WithDepthFirst and channels that let the sender go on (Go's rules), a
// tree of spawns runs depth first: a Skynet tree of 10,000 leaves (11,111
// tasklets) keeps a few dozen alive at once, where the round robin has
// every one of them alive before the first leaf runs (and so does depth-first
// with the default preference: a leaf that sent waits at the back for its
// last step). All get the same sum.
func TestDepthFirstRunsATreeDepthFirst(t *testing.T) {
	cases := []struct {
		name     string
		opts     []scheduler.Option
		prefer   bool
		min, max int
	}{
		{"round robin", nil, false, 11_111, 11_112},
		{"round robin, sender goes on", nil, true, 11_111, 11_112},
		{"depth first, default preference", []scheduler.Option{scheduler.WithDepthFirst()}, false, 10_000, 11_112},
		{"depth first, sender goes on", []scheduler.Option{scheduler.WithDepthFirst()}, true, 1, 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New(tc.opts...)
			const size = 10_000
			out := s.NewChannel(0)
			var got int64
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Recv(out) },
				func(t *tasklet.T) tasklet.Op { got = t.Value().(int64); return t.Exit() },
			))
			peak := 0
			s.Spawn(&tree{Size: size, Div: 10, Out: out, s: s, peak: &peak, prefer: tc.prefer})
			require.NoError(t, s.Run(context.Background()))
			assert.Equal(t, int64(size*(size-1)/2), got)
			assert.GreaterOrEqual(t, peak, tc.min, "most tasklets alive at once")
			assert.LessOrEqual(t, peak, tc.max, "most tasklets alive at once")
		})
	}
}
