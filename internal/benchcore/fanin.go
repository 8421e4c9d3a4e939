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

// fanReceiver receives N values from Ch, one Recv each.
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

// fanInBatch is how many values the server takes per TryRecvMany.
const fanInBatch = 256

// fanServer is the receiver as a fan-in server is written: it takes every
// value that arrived in one step with TryRecvMany, and waits with Recv only
// when its inbox is empty.
type fanServer struct {
	Ch    channel.ID
	N     int // values still to receive
	Sum   int
	batch []any `stackless:"-"` // scratch of one step, empty between steps
}

func (f *fanServer) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok { // what the Recv delivered
		f.Sum += v
		f.N--
	}
	if f.batch == nil {
		f.batch = make([]any, fanInBatch)
	}
	for f.N > 0 {
		n, err := t.TryRecvMany(f.Ch, f.batch)
		for _, v := range f.batch[:n] {
			f.Sum += v.(int)
		}
		clear(f.batch[:n])
		f.N -= n
		if err != nil {
			return t.Fail(err)
		}
		if n < len(f.batch) {
			break
		}
	}
	if f.N == 0 {
		return t.Exit()
	}
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

// NewFanIn builds the fan-in world for n values: 1,000 sender tasklets and a
// server on a channel buffered to 1,024 with preference 1 (a sender goes on
// instead of switching to the server, Go's rule). received reports the sum
// the server took, n once the world has run. bench/peers runs it too.
func NewFanIn(n int) (s *scheduler.Scheduler, received func() int) {
	s = scheduler.New()
	ch := s.NewChannel(fanInBuffer)
	s.Channel(ch).SetPreference(channel.PreferSender)
	r := &fanServer{Ch: ch, N: n}
	s.Spawn(r)
	for _, k := range fanShares(n) {
		s.Spawn(&fanSender{Ch: ch, N: k})
	}
	return s, func() int { return r.Sum }
}

// FanIn: 1,000 sender tasklets and a server draining a channel buffered to
// 1,024 values (NewFanIn); op = one value received. It reports msg/s.
func FanIn(b *testing.B) {
	s, received := NewFanIn(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := received(); got != b.N {
		b.Fatalf("received %d values, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// FanInPerValue: the same senders and channel with the default preference
// and a receiver that takes one value per Recv: every value is handed to the
// waiting receiver, which runs at once (two switches a value). op = one
// value received.
func FanInPerValue(b *testing.B) {
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
