package store_test

// World-level checkpoint benchmarks over 100,000-entity worlds of two
// shapes: "shared" has the entities blocked on 1,000 channels (the world of
// scheduler.BenchmarkIdleTasklets: about one record per tasklet), "inbox"
// gives every entity its own channel (two records per tasklet).
//   BenchmarkCheckpoint: op = one tasklet written in a full checkpoint
//     (encoding + one bbolt transaction + fsync);
//   BenchmarkIncrementalCheckpoint: 1% of the entities change between
//     checkpoints; op = one changed tasklet written;
//   BenchmarkRestore: op = one tasklet loaded from the store, decoded and
//     runnable in a fresh scheduler.

import (
	"path/filepath"

	"github.com/stackless-go/stackless/channel"
	"testing"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

const benchEntities = 100_000

func benchDB(b *testing.B) *store.DB {
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.WithKeep(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// worlds are the two shapes every benchmark runs on.
var worlds = []struct {
	name  string
	build func(s *scheduler.Scheduler) []channel.ID
}{
	{"shared", func(s *scheduler.Scheduler) []channel.ID { return testworld.Crowd(s, benchEntities, 1000) }},
	{"inbox", func(s *scheduler.Scheduler) []channel.ID { return testworld.Entities(s, benchEntities) }},
}

func BenchmarkCheckpoint(b *testing.B) {
	for _, w := range worlds {
		b.Run(w.name, func(b *testing.B) { benchCheckpoint(b, w.build) })
	}
}

func benchCheckpoint(b *testing.B, build func(*scheduler.Scheduler) []channel.ID) {
	reg := testworld.Registry()
	s := scheduler.New()
	build(s)
	ck := store.NewCheckpointer(benchDB(b), reg, store.WithFullEvery(1))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchEntities {
		if err := ck.Checkpoint(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasklets/s")
}

func BenchmarkIncrementalCheckpoint(b *testing.B) {
	reg := testworld.Registry()
	s := scheduler.New(scheduler.WithChangeTracking())
	chans := testworld.Entities(s, benchEntities) // one inbox each, so 1% of posts wake 1% of entities
	ck := store.NewCheckpointer(benchDB(b), reg, store.WithFullEvery(1<<30))
	if err := ck.Checkpoint(s); err != nil { // the full base
		b.Fatal(err)
	}
	const changed = benchEntities / 100
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += changed {
		b.StopTimer()
		for range changed { // wake 1% of the entities for one step
			s.Post(chans[next], 1)
			next = (next + 1) % len(chans)
		}
		if err := s.Tick(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := ck.Checkpoint(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasklets/s")
}

func BenchmarkRestore(b *testing.B) {
	for _, w := range worlds {
		b.Run(w.name, func(b *testing.B) { benchRestore(b, w.build) })
	}
}

func benchRestore(b *testing.B, build func(*scheduler.Scheduler) []channel.ID) {
	reg := testworld.Registry()
	s := scheduler.New()
	build(s)
	db := benchDB(b)
	if err := store.NewCheckpointer(db, reg).Checkpoint(s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchEntities {
		s2, err := store.Restore(db, reg, 0)
		if err != nil {
			b.Fatal(err)
		}
		if s2.Len() != benchEntities {
			b.Fatalf("restored %d tasklets", s2.Len())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasklets/s")
}
