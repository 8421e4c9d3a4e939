package flowtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// BenchmarkFlowPingPong is scheduler's BenchmarkChannelPingPong with the
// two tasklets written as flows and lowered; op = one value handed over.
func BenchmarkFlowPingPong(b *testing.B) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Spawn(flowtest.NewPingReceiver(ch, b.N))
	s.Spawn(flowtest.NewPingSender(ch, b.N))
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFlowNested: one tasklet yielding through 1 to 4 frames; op = one
// yield and resume. The difference between depths is the cost of a frame.
func BenchmarkFlowNested(b *testing.B) {
	for depth := 1; depth <= 4; depth++ {
		b.Run(fmt.Sprintf("depth%d", depth), func(b *testing.B) {
			s := scheduler.New()
			s.Spawn(flowtest.NewYielder(b.N, depth))
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFlowDeferred is BenchmarkFlowNested/depth2 with a deferred
// literal in the callee, armed and run on every call; op = one yield and
// resume, and one call returning through its deferred call.
func BenchmarkFlowDeferred(b *testing.B) {
	s := scheduler.New()
	s.Spawn(flowtest.NewDeferYielder(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFlowRecursive is BenchmarkFlowNested through recursion: depthN
// yields N recursive calls below a frame held by value; op = one yield and
// resume, the recursion entered again each time. A frame held by pointer is
// made by the first call that deep and kept, zeroed, for the next.
func BenchmarkFlowRecursive(b *testing.B) {
	for depth := 1; depth <= 4; depth++ {
		b.Run(fmt.Sprintf("depth%d", depth), func(b *testing.B) {
			s := scheduler.New()
			s.Spawn(flowtest.NewRecYielder(b.N, depth+1))
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFlowDump dumps a tasklet suspended four frames deep and one
// holding the same live data in one frame; op = one DumpTasklet.
func BenchmarkFlowDump(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func() scheduler.Option
	}{{"flat", nil}, {"deep4", nil}} {
		b.Run(c.name, func(b *testing.B) {
			s := scheduler.New()
			id := s.Spawn(flowtest.NewFlat(1, 2, 3, 4))
			if c.name == "deep4" {
				id = s.Spawn(flowtest.NewDeep(1))
			}
			if err := s.Tick(); err != nil {
				b.Fatal(err)
			}
			ts, err := s.TaskletState(id)
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if buf, err = pickle.Default.AppendTasklet(buf[:0], &ts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}
