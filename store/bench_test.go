package store

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// Byte-layer benchmarks. The world-level BenchmarkCheckpoint lives elsewhere.

const (
	benchBatch     = 100_000 // records per full Save / Load
	benchValueSize = 64
)

func benchRecords() []Record {
	recs := make([]Record, benchBatch)
	keys := make([]byte, 8*benchBatch)
	vals := make([]byte, benchValueSize*benchBatch)
	for i := range recs {
		k := keys[8*i : 8*i+8 : 8*i+8]
		binary.BigEndian.PutUint64(k, uint64(i)) // tasklet ids: sequential big-endian keys
		v := vals[benchValueSize*i : benchValueSize*(i+1) : benchValueSize*(i+1)]
		for j := range v {
			v[j] = byte(i + j)
		}
		recs[i] = Record{Key: k, Value: v}
	}
	return recs
}

// perRecord runs fn (which handles benchBatch records) often enough to cover
// b.N records and reports per-record ns, B and allocs, plus records/s.
// One op is one record; fn always handles the full batch so every run
// measures the same 100,000-record transaction.
func perRecord(b *testing.B, fn func()) {
	b.Helper()
	b.ReportAllocs()
	batches := (b.N + benchBatch - 1) / benchBatch
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	for range batches {
		fn()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(batches * benchBatch)
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/op")
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
}

// BenchmarkSaveRecords: one op = one 64-byte record written as part of a
// 100,000-record full Save (one bbolt transaction with its fsyncs; with
// WithKeep(2) every Save also prunes the generation that falls out).
func BenchmarkSaveRecords(b *testing.B) {
	db := openTest(b, WithKeep(2))
	recs := benchRecords()
	for range 2 { // steady state: every measured Save also prunes one old generation
		if _, err := db.Save(&Checkpoint{Records: recs}); err != nil {
			b.Fatal(err)
		}
	}
	perRecord(b, func() {
		if _, err := db.Save(&Checkpoint{Meta: []byte("header"), Records: recs}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLoadRecords: one op = one 64-byte record loaded (checksum verified
// and copied out) as part of Loading a 100,000-record full generation.
func BenchmarkLoadRecords(b *testing.B) {
	db := openTest(b)
	gen, err := db.Save(&Checkpoint{Records: benchRecords()})
	if err != nil {
		b.Fatal(err)
	}
	perRecord(b, func() {
		cp, err := db.Load(gen)
		if err != nil {
			b.Fatal(err)
		}
		if len(cp.Records) != benchBatch {
			b.Fatalf("loaded %d records", len(cp.Records))
		}
	})
}
