package scheduler_test

import (
	"testing"
	"time"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// BenchmarkTaskletsSleepers lists 100,000 sleeping tasklets (what an
// observer page, a game's load or a link's loss does): per tasklet. It was
// quadratic, each sleeper's deadline found by walking every timer.
func BenchmarkTaskletsSleepers(b *testing.B) {
	s := scheduler.New()
	const n = 100_000
	for i := range n {
		s.Spawn(steps(func(t *tasklet.T) tasklet.Op { return t.Sleep(time.Duration(i+1) * time.Millisecond) }, exit))
	}
	if err := s.Tick(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got := len(s.Tasklets()); got != n {
			b.Fatalf("listed %d of %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/tasklet")
}
