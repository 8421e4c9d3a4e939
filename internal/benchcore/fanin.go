package benchcore

import (
	"context"
	"sync"
	"testing"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Fan-in: many senders, one receiver, one channel: a server tasklet and its
// clients, or a game's event queue.

const (
	fanInSenders = 1000
	fanInBuffer  = 1024 // the channel's capacity, the same for goroutines
)

// fanSender sends N values on Ch.
type fanSender struct {
	Ch channel.ID
	N  int
}

func (f *fanSender) Step(t *tasklet.T) tasklet.Op {
	if f.N == 0 {
		return t.Exit()
	}
	f.N--
	return t.Send(f.Ch, 1)
}

// fanReceiver receives N values from Ch.
type fanReceiver struct {
	Ch  channel.ID
	N   int
	Sum int
}

func (f *fanReceiver) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok {
		f.Sum += v
	}
	if f.N == 0 {
		return t.Exit()
	}
	f.N--
	return t.Recv(f.Ch)
}

// fanShares splits n values among the senders.
func fanShares(n int) []int {
	out := make([]int, fanInSenders)
	for i := range out {
		out[i] = n / fanInSenders
		if i < n%fanInSenders {
			out[i]++
		}
	}
	return out
}

// FanIn: 1,000 sender tasklets and one receiver on a channel buffered to
// 1,024 values; op = one value received. It reports msg/s.
func FanIn(b *testing.B) {
	s := scheduler.New()
	ch := s.NewChannel(fanInBuffer)
	r := &fanReceiver{Ch: ch, N: b.N}
	s.Spawn(r)
	for _, n := range fanShares(b.N) {
		s.Spawn(&fanSender{Ch: ch, N: n})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if r.Sum != b.N {
		b.Fatalf("received %d values, want %d", r.Sum, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// GoroutineFanIn: the same with 1,000 goroutines and a Go channel buffered
// to 1,024 values; op = one value received.
func GoroutineFanIn(b *testing.B) {
	ch := make(chan int, fanInBuffer)
	var wg sync.WaitGroup
	shares := fanShares(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for _, n := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				ch <- 1
			}
		}()
	}
	sum := 0
	for range b.N {
		sum += <-ch
	}
	b.StopTimer()
	wg.Wait()
	if sum != b.N {
		b.Fatalf("received %d values, want %d", sum, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
