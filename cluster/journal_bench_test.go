package cluster

import (
	"sync/atomic"
	"testing"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// BenchmarkClusterJournal: one op is what the effect pool does for a call
// that is not in the journal yet: a Lookup (a miss, one round trip to the
// server) and a Record made durable (acknowledged by JetStream), from 64
// goroutines at once (a worker's pool), so records group-commit. Against
// an embedded NATS server (in-process connection, file storage).
func BenchmarkClusterJournal(b *testing.B) {
	j, _ := testJournal(b, DefaultJournalBytes)
	var next atomic.Uint64
	res := scheduler.EffectResult{Effect: "fetch", Req: "http://example.com/doc", Resp: "a page of about sixty bytes, as a small effect answers"}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan error, 1)
		for pb.Next() {
			key := scheduler.EffectKey{Tasklet: tasklet.ID(next.Add(1)), Step: 1}
			if _, ok, err := j.Lookup(key); err != nil || ok {
				b.Errorf("lookup of a new key: found %v, %v", ok, err)
				return
			}
			j.Record(key, res, func(err error) { done <- err })
			if err := <-done; err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := j.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "effects/s")
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Records)/float64(st.Commits), "records/commit")
	}
}
