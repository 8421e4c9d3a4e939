package scheduler_test

import (
	"context"
	"testing"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// doer asks for the no-op effect Left times, then exits.
type doer struct{ Left int }

func (d *doer) Step(t *tasklet.T) tasklet.Op {
	if d.Left == 0 {
		return t.Exit()
	}
	d.Left--
	return t.Do("noop", d.Left)
}

func noopEffects(b *testing.B) *scheduler.Effects {
	reg := scheduler.NewEffects()
	if err := scheduler.RegisterEffect(reg, "noop", func(_ context.Context, _ scheduler.EffectKey, n int) (int, error) {
		return n, nil
	}); err != nil {
		b.Fatal(err)
	}
	return reg
}

// BenchmarkEffect: one op is one no-op effect, from t.Do to the tasklet
// resumed with the response, one call at a time.
func BenchmarkEffect(b *testing.B) {
	s := scheduler.New(scheduler.WithEffects(noopEffects(b), scheduler.EffectConfig{}))
	s.Spawn(&doer{Left: b.N})
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEffectThroughput: one op is one no-op effect; 10,000 tasklets
// each call it in a loop, so many calls are in flight at once. The
// effects/s metric is the figure the issue asks for (≥ 500k/s on 2 cores).
func BenchmarkEffectThroughput(b *testing.B) {
	const tasklets = 10_000
	s := scheduler.New(scheduler.WithEffects(noopEffects(b), scheduler.EffectConfig{}))
	per := b.N/tasklets + 1
	for range tasklets {
		s.Spawn(&doer{Left: per})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(per*tasklets)/b.Elapsed().Seconds(), "effects/s")
}
