package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// looper asks for the no-op effect Left times.
type looper struct{ Left int }

func (l *looper) Step(t *tasklet.T) tasklet.Op {
	if l.Left == 0 {
		return t.Exit()
	}
	l.Left--
	return t.Do("noop", l.Left)
}

// BenchmarkEffectJournaled: one op is one no-op effect whose result is
// made durable in the bbolt journal (fsync on) before its tasklet resumes;
// 10,000 tasklets call it in a loop, so the journal's group commit takes
// many results per transaction. The effects/s metric is the figure
// (≥ 100k/s).
func BenchmarkEffectJournaled(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "j.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	j, err := store.OpenJournal(db, pickle.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	reg := scheduler.NewEffects()
	if err := scheduler.RegisterEffect(reg, "noop", func(_ context.Context, _ scheduler.EffectKey, n int) (int, error) {
		return n, nil
	}); err != nil {
		b.Fatal(err)
	}
	s := scheduler.New(scheduler.WithEffects(reg, scheduler.EffectConfig{Journal: j}))
	const tasklets = 10_000
	per := b.N/tasklets + 1
	for range tasklets {
		s.Spawn(&looper{Left: per})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := j.Stats()
	b.ReportMetric(float64(per*tasklets)/b.Elapsed().Seconds(), "effects/s")
	b.ReportMetric(float64(st.Records)/float64(max(st.Commits, 1)), "records/commit")
}
