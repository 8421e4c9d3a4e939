package benchcore

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// sleeper sleeps a random duration (up to a second, to the nanosecond) again
// and again: a game entity waiting for its next move. R is its own
// xorshift state, so the run is the same every time.
type sleeper struct{ R uint64 }

// sleepRun counts the firings left in the running round; the step that
// takes the last one stops the clock and ends Run.
var sleepRun struct {
	left int
	stop func()
}

// sleepSpan bounds the random sleeps: up to a second, so a million sleepers
// spread over every level of a timer structure that buckets by time.
const sleepSpan = uint64(time.Second)

func (s *sleeper) Step(t *tasklet.T) tasklet.Op {
	if sleepRun.left--; sleepRun.left == 0 {
		sleepRun.stop()
	}
	s.R ^= s.R << 13
	s.R ^= s.R >> 7
	s.R ^= s.R << 17
	return t.Sleep(time.Duration(1 + s.R%sleepSpan))
}

// sleepWorld is a scheduler of n sleepers, each already asleep. It is built
// once per size and kept across the rounds of a benchmark: building a
// million tasklets takes longer than the round it would be timed with.
type sleepWorld struct {
	once sync.Once
	s    *scheduler.Scheduler
}

var sleepWorlds = map[int]*sleepWorld{1000: {}, 100_000: {}, 1_000_000: {}}

func (w *sleepWorld) get(b *testing.B, n int) *scheduler.Scheduler {
	w.once.Do(func() {
		w.s = scheduler.New()
		for i := range n {
			w.s.Spawn(&sleeper{R: uint64(i)*0x9E3779B97F4A7C15 + 1})
		}
		sleepRun.left = -1                 // not counted
		if err := w.s.Tick(); err != nil { // every sleeper goes to sleep
			b.Fatal(err)
		}
	})
	return w.s
}

// cpuTime is the CPU time the process has used, in ns: on a machine
// shared with other work it tells what an op costs where wall time tells
// how long it waited for a core.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Sleepers returns the benchmark of n tasklets (100,000 or 1,000,000)
// sleeping random durations on a virtual clock, which jumps to the next
// timer whenever every tasklet sleeps; op = one timer firing: the clock
// jump, the wake-up, the sleeper's step and its next Sleep.
func Sleepers(n int) func(b *testing.B) {
	return func(b *testing.B) {
		w := sleepWorlds[n]
		if w == nil {
			b.Fatalf("no sleeper world of %d tasklets (100,000 or 1,000,000)", n)
		}
		s := w.get(b, n)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var cpu int64
		sleepRun.left = b.N
		sleepRun.stop = func() {
			b.StopTimer()
			cpu += cpuTime()
			cancel()
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu -= cpuTime()
		// Run checks ctx every 256 bursts of up to 256 steps: the steps
		// after the last timed one run with the clock stopped.
		if err := s.Run(ctx); !errors.Is(err, context.Canceled) {
			b.Fatalf("run ended with %v before %d firings", err, b.N)
		}
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		if s.Len() != n {
			b.Fatalf("%d sleepers alive, want %d", s.Len(), n)
		}
	}
}
