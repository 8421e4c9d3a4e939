package peers

import (
	"runtime"
	"testing"
)

// Workload sizes, the same for every peer.
const (
	FanInSenders = 1000
	SkynetLeaves = 1_000_000 // the tree has 1,111,111 nodes
	IdleActors   = 100_000
	SpawnBatch   = 1024 // spawned before waiting for their exits
)

// SkynetSum is the sum the Skynet tree of size leaves reports.
func SkynetSum(size int64) int64 { return size * (size - 1) / 2 }

// MemInUse is live heap plus goroutine stacks after a full collection:
// an idle goroutine's cost is mostly its stack, which HeapAlloc leaves out.
func MemInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// ReportIdle runs build (which makes IdleActors idle actors and returns a
// function releasing them) and reports B/actor.
func ReportIdle(b *testing.B, build func() (release func())) {
	b.ReportAllocs()
	var per float64
	for range b.N {
		before := MemInUse()
		release := build()
		after := MemInUse()
		per = float64(after-before) / IdleActors
		release()
	}
	b.ReportMetric(per, "B/actor")
}

// ReportFanIn adds the fan-in figure, messages per second in millions.
func ReportFanIn(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds()/1e6, "Mmsg/s")
}

// ReportSkynet adds the Skynet figure, milliseconds per tree.
func ReportSkynet(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
}
