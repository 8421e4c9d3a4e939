package benchcore

import (
	"fmt"
	"testing"
	"time"
)

// spinLoops is the length of one calibration loop.
const spinLoops = 1000

// spinTable holds the pseudo-random bytes whose branches spin cannot
// predict.
var spinTable = func() (t [4096]uint8) {
	x := uint32(1)
	for i := range t {
		x = x*1664525 + 1013904223
		t[i] = uint8(x >> 24)
	}
	return t
}()

// spinSink keeps the compiler from dropping the loop.
var spinSink int

// spin runs n loops of branches that go either way by a table of 4,096
// pseudo-random bytes. On this project's 2-vCPU VM that is what differed
// between the vCPUs: a chain of multiplies and a walk through memory ran
// alike on both, while this loop ran up to 3x slower on one of them (and
// the scheduler's switches 2x), which one and when changing by the minute,
// as if another guest shared its core's branch predictor.
func spin(n int) {
	s, k := spinSink, 0
	for range n {
		for range spinLoops {
			v := int(spinTable[k&(len(spinTable)-1)])
			if v < 128 {
				s += v
			} else {
				s ^= v
			}
			k++
		}
	}
	spinSink = s
}

// CPUSpeed times the same spin loop on each CPU this process may run on,
// the thread pinned to one in turn (where the platform allows; elsewhere it
// times wherever the thread runs). op = one loop on each CPU. It reports
// cpuN-ns (a loop on CPU N) and slowest/fastest: on a VM whose vCPUs share
// physical cores with other guests one vCPU may run at half the speed of
// the other for a while, and a GOMAXPROCS=1 figure then depends on which
// one it ran on. Compare the leads of a run with this in mind.
func CPUSpeed(b *testing.B) {
	var fastest, slowest float64
	err := onEachCPU(func(cpu int) {
		start := time.Now()
		spin(b.N)
		ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns, fmt.Sprintf("cpu%d-ns", cpu))
		if fastest == 0 || ns < fastest {
			fastest = ns
		}
		slowest = max(slowest, ns)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(slowest/fastest, "slowest/fastest")
}
