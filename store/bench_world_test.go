package store_test

// World-level checkpoint benchmarks over a 100,000-entity world (each entity
// a small behavior blocked on its own channel):
//   BenchmarkCheckpoint: op = one tasklet written in a full checkpoint
//     (encoding + one bbolt transaction + fsync);
//   BenchmarkIncrementalCheckpoint: 1% of the entities change between
//     checkpoints; op = one changed tasklet written;
//   BenchmarkRestore: op = one tasklet loaded from the store, decoded and
//     runnable in a fresh scheduler.

import (
	"path/filepath"
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

func BenchmarkCheckpoint(b *testing.B) {
	reg := testworld.Registry()
	s := scheduler.New()
	testworld.Entities(s, benchEntities)
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
	chans := testworld.Entities(s, benchEntities)
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
	reg := testworld.Registry()
	s := scheduler.New()
	testworld.Entities(s, benchEntities)
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
