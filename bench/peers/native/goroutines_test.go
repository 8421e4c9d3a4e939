package native

// goroutines: one goroutine per actor, Go channels as inboxes.

import (
	"sync"
	"testing"

	"github.com/stackless-go/stackless/bench/peers"
	"github.com/stackless-go/stackless/internal/benchcore"
)

func goroutinePingPong(b *testing.B) { benchcore.GoroutineChannelPingPong(b) }
func goroutineSpawn(b *testing.B)    { benchcore.GoroutineSpawn(b) }

func goroutineSkynet(b *testing.B) {
	benchcore.GoroutineSkynet(b)
	peers.ReportSkynet(b)
}

// goroutineFanIn: 1,000 goroutines send on one buffered channel (1,024),
// the faster choice for goroutines; op = one value received.
func goroutineFanIn(b *testing.B) {
	per := (b.N + peers.FanInSenders - 1) / peers.FanInSenders
	ch := make(chan int, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range peers.FanInSenders {
		go func() {
			for range per {
				ch <- 1
			}
		}()
	}
	sum := 0
	for range per * peers.FanInSenders {
		sum += <-ch
	}
	b.StopTimer()
	if sum != per*peers.FanInSenders {
		b.Fatalf("received %d values, want %d", sum, per*peers.FanInSenders)
	}
	peers.ReportFanIn(b, per*peers.FanInSenders)
}

// goroutineIdle: goroutines each blocked receiving from a channel of its own.
func goroutineIdle(b *testing.B) {
	peers.ReportIdle(b, func() func() {
		var started sync.WaitGroup
		inboxes := make([]chan int, peers.IdleActors)
		started.Add(peers.IdleActors)
		for i := range inboxes {
			inboxes[i] = make(chan int)
			go func(in chan int) {
				started.Done()
				<-in
			}(inboxes[i])
		}
		started.Wait()
		return func() {
			for _, in := range inboxes {
				close(in)
			}
		}
	})
}
