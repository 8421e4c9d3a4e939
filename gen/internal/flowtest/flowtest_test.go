package flowtest_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// mode is how a run executes its flows.
type mode int

const (
	lowered   mode = iota // the generated behaviors
	unlowered             // the functions themselves, on goroutines
	restored              // lowered, saved and restored after every switch
)

func (m mode) String() string { return [...]string{"lowered", "unlowered", "restored"}[m] }

// spawnFn spawns a flow as the mode wants it: the generated behavior, or
// the function it came from.
type spawnFn func(b tasklet.Behavior, fn func(*tasklet.Flow) error) tasklet.ID

type scenario struct {
	name  string
	build func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn)
}

var scenarios = []scenario{
	{"guard", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		eyes := s.NewChannel(0)
		vals := []int{3, 1, 4}
		spawn(flowtest.NewFeed(eyes, vals), func(t *tasklet.Flow) error { return flowtest.Feed(t, eyes, vals) })
		spawn(flowtest.NewGuard(eyes, out), func(t *tasklet.Flow) error { return flowtest.Guard(t, eyes, out) })
	}},
	{"branches", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		vals := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		spawn(flowtest.NewBranches(in, out), func(t *tasklet.Flow) error { return flowtest.Branches(t, in, out) })
		spawn(flowtest.NewFeed(in, vals), func(t *tasklet.Flow) error { return flowtest.Feed(t, in, vals) })
	}},
	{"results", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewResults(out), func(t *tasklet.Flow) error { return flowtest.Results(t, out) })
	}},
	{"loops", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		words := []string{"a", "skip", "b"}
		spawn(flowtest.NewLoops(out, words), func(t *tasklet.Flow) error { return flowtest.Loops(t, out, words) })
	}},
	{"exprs", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(2)
		s.PostLocal(in, "buffered")
		spawn(flowtest.NewExprs(in, out), func(t *tasklet.Flow) error { return flowtest.Exprs(t, in, out) })
	}},
	{"left", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		vals := []int{7}
		spawn(flowtest.NewLeft(in, out), func(t *tasklet.Flow) error { return flowtest.Left(t, in, out) })
		spawn(flowtest.NewFeed(in, vals), func(t *tasklet.Flow) error { return flowtest.Feed(t, in, vals) })
	}},
	{"ranges", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewRanges(out), func(t *tasklet.Flow) error { return flowtest.Ranges(t, out) })
	}},
	{"names", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewNames(out), func(t *tasklet.Flow) error { return flowtest.Names(t, out) })
	}},
	{"decls", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewDecls(out), func(t *tasklet.Flow) error { return flowtest.Decls(t, out) })
	}},
	{"rangewrites", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewRangeWrites(out), func(t *tasklet.Flow) error { return flowtest.RangeWrites(t, out) })
	}},
	{"handed", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewHanded(out), func(t *tasklet.Flow) error { return flowtest.Handed(t, out) })
	}},
	{"corners", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewCorners(out), func(t *tasklet.Flow) error { return flowtest.Corners(t, out) })
	}},
	{"shares", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewShares(out), func(t *tasklet.Flow) error { return flowtest.Shares(t, out) })
	}},
	{"maps", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewMaps(out), func(t *tasklet.Flow) error { return flowtest.Maps(t, out) })
	}},
	{"paths", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewPaths(out), func(t *tasklet.Flow) error { return flowtest.Paths(t, out) })
	}},
	{"compound", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewCompound(out), func(t *tasklet.Flow) error { return flowtest.Compound(t, out) })
	}},
	{"closures", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewClosures(out), func(t *tasklet.Flow) error { return flowtest.Closures(t, out) })
	}},
	{"variadic", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewVariadic(out, "x", "y"), func(t *tasklet.Flow) error { return flowtest.Variadic(t, out, "x", "y") })
		spawn(flowtest.NewVariadic(out), func(t *tasklet.Flow) error { return flowtest.Variadic(t, out) })
	}},
	{"methods", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		se := flowtest.Sentry{Name: "a", HP: 3, Log: []string{"start"}}
		spawn(flowtest.NewSentryWatch(se, out), func(t *tasklet.Flow) error { return se.Watch(t, out) })
	}},
	{"embedded", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		p := flowtest.Post{Sentry: flowtest.Sentry{Name: "e", HP: 5, Log: []string{"gate"}}, Gate: "south"}
		spawn(flowtest.NewGuarded(out, p), func(t *tasklet.Flow) error { return flowtest.Guarded(t, out, p) })
	}},
	{"method expressions", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		p := flowtest.Post{Sentry: flowtest.Sentry{Name: "x", HP: 6, Log: []string{"post"}}, Gate: "east"}
		spawn(flowtest.NewExpressed(out, p), func(t *tasklet.Flow) error { return flowtest.Expressed(t, out, p) })
	}},
	{"cases", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewCases(out), func(t *tasklet.Flow) error { return flowtest.Cases(t, out) })
	}},
	{"typed", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewTyped(out), func(t *tasklet.Flow) error { return flowtest.Typed(t, out) })
	}},
	{"posts", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewPosts(out), func(t *tasklet.Flow) error { return flowtest.Posts(t, out) })
	}},
	{"recursion", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewRecursion(out), func(t *tasklet.Flow) error { return flowtest.Recursion(t, out) })
		spawn(flowtest.NewCountdown(out, 4), func(t *tasklet.Flow) error { return flowtest.Countdown(t, out, 4) })
	}},
	{"wrapped", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewWrapped(out), func(t *tasklet.Flow) error { return flowtest.Wrapped(t, out) })
	}},
	{"nested", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		vals := []int{1, 2, 3, 4, 5}
		spawn(flowtest.NewNested(in, out), func(t *tasklet.Flow) error { return flowtest.Nested(t, in, out) })
		spawn(flowtest.NewFeed(in, vals), func(t *tasklet.Flow) error { return flowtest.Feed(t, in, vals) })
	}},
	{"nested-fails", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		vals := make([]int, 14)
		spawn(flowtest.NewNested(in, out), func(t *tasklet.Flow) error { return flowtest.Nested(t, in, out) })
		spawn(flowtest.NewFeed(in, vals), func(t *tasklet.Flow) error { return flowtest.Feed(t, in, vals) })
	}},
	{"timers", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		spawn(flowtest.NewTimer(in, out), func(t *tasklet.Flow) error { return flowtest.Timer(t, in, out) })
		spawn(flowtest.NewTicker(in, 3), func(t *tasklet.Flow) error { return flowtest.Ticker(t, in, 3) })
	}},
	{"before", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewBefore(out), func(t *tasklet.Flow) error { return flowtest.Before(t, out) })
	}},
	{"defer-close", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		ch := s.NewChannel(0)
		spawn(flowtest.NewConsumer(ch, out), func(t *tasklet.Flow) error { return flowtest.Consumer(t, ch, out) })
		spawn(flowtest.NewProducer(ch, 4), func(t *tasklet.Flow) error { return flowtest.Producer(t, ch, 4) })
	}},
	{"defer-returns", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewDeferrals(out), func(t *tasklet.Flow) error { return flowtest.Deferrals(t, out) })
	}},
	{"defer-panic", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewUnwinder(out), func(t *tasklet.Flow) error { return flowtest.Unwinder(t, out) })
		spawn(flowtest.NewListener(out, 4), func(t *tasklet.Flow) error { return flowtest.Listener(t, out, 4) })
	}},
	{"defer-stamp", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		spawn(flowtest.NewStamper(out, 7), func(t *tasklet.Flow) error { return flowtest.Stamper(t, out, 7) })
	}},
	{"defer-kill", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		in := s.NewChannel(0)
		victim := spawn(flowtest.NewVictim(in), func(t *tasklet.Flow) error { return flowtest.Victim(t, in) })
		spawn(flowtest.NewKiller(out, victim), func(t *tasklet.Flow) error { return flowtest.Killer(t, out, victim) })
		spawn(flowtest.NewListener(out, 4), func(t *tasklet.Flow) error { return flowtest.Listener(t, out, 4) })
	}},
	{"errors", func(s *scheduler.Scheduler, out channel.ID, spawn spawnFn) {
		for _, tough := range []bool{false, true} {
			toErrs, toDropper := s.NewChannel(0), s.NewChannel(0)
			errs := spawn(flowtest.NewErrs(toErrs, out, tough), func(t *tasklet.Flow) error { return flowtest.Errs(t, toErrs, out, tough) })
			dropper := spawn(flowtest.NewDropper(toDropper, out), func(t *tasklet.Flow) error { return flowtest.Dropper(t, toDropper, out) })
			spawn(flowtest.NewBoss(toErrs, toDropper, out, errs, dropper), func(t *tasklet.Flow) error {
				return flowtest.Boss(t, toErrs, toDropper, out, errs, dropper)
			})
		}
	}},
}

// trace is everything a run shows: what its flows reported on the out
// channel, the failures, and how the run ended.
func run(t *testing.T, sc scenario, m mode) []string {
	t.Helper()
	var trace []string
	opts := []scheduler.Option{scheduler.WithErrorHandler(func(err error) { trace = append(trace, "failure: "+describe(err)) })}
	s := scheduler.New(opts...)
	out := s.NewChannel(1 << 12)
	sc.build(s, out, func(b tasklet.Behavior, fn func(*tasklet.Flow) error) tasklet.ID {
		if m == unlowered {
			return s.Spawn(tasklet.Goroutine(fn))
		}
		return s.Spawn(b)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	switch m {
	case restored:
		for steps := 0; s.Len() > 0; steps++ {
			require.Less(t, steps, 100000, "the run does not end")
			if _, err = s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft); err != nil {
				break
			}
			blob, derr := pickle.Default.DumpWorld(s.World())
			require.NoError(t, derr, "dump after %d switches", steps)
			w, lerr := pickle.Default.LoadWorld(blob)
			require.NoError(t, lerr)
			s, err = scheduler.Restore(w, opts...)
			require.NoError(t, err)
		}
	default:
		err = s.Run(ctx)
	}
	for _, c := range s.World().Channels {
		if c.ID == out {
			for _, v := range c.Buffer {
				trace = append(trace, fmt.Sprint(v))
			}
		}
	}
	// A deadlock names the blocked tasklets' types, which differ by mode.
	return append(trace, "run: "+typeNames.ReplaceAllString(fmt.Sprint(err), "(T)"))
}

var typeNames = regexp.MustCompile(`\(\*[a-zA-Z.]+\)`)

func describe(err error) string {
	var te *scheduler.TaskletError
	if errors.As(err, &te) {
		return fmt.Sprintf("%v step %d: %v", te.ID, te.Step, te.Err)
	}
	return err.Error()
}

func TestDifferential(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			want := run(t, sc, unlowered)
			require.Greater(t, len(want), 1, "the scenario reports something")
			for _, m := range []mode{lowered, restored} {
				assert.Equal(t, want, run(t, sc, m), "%s run differs from the unlowered one", m)
			}
		})
	}
}
