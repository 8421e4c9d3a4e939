package native

// stackless: ping-pong, spawn and Skynet are the library's own core
// benchmarks (internal/benchcore, also run by `make bench`), so both suites
// report the same figure; fan-in and the idle inbox are written here.

import (
	"context"
	"testing"

	"github.com/stackless-go/stackless/bench/peers"
	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/benchcore"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func stacklessPingPong(b *testing.B) { benchcore.ChannelPingPong(b) }
func stacklessSpawn(b *testing.B)    { benchcore.Spawn(b) }

func stacklessSkynet(b *testing.B) {
	benchcore.Skynet(b)
	peers.ReportSkynet(b)
}

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

type fanReceiver struct {
	Ch       channel.ID
	Left     int
	Got, Sum int
}

func (f *fanReceiver) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok {
		f.Sum += v
	}
	if f.Left == 0 {
		return t.Exit()
	}
	f.Left--
	return t.Recv(f.Ch)
}

// stacklessFanIn: 1,000 tasklets send on one unbuffered channel that one
// tasklet receives from; op = one value received.
func stacklessFanIn(b *testing.B) {
	per := (b.N + peers.FanInSenders - 1) / peers.FanInSenders
	s := scheduler.New()
	ch := s.NewChannel(0)
	r := &fanReceiver{Ch: ch, Left: per * peers.FanInSenders}
	s.Spawn(r)
	for range peers.FanInSenders {
		s.Spawn(&fanSender{Ch: ch, N: per})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if r.Sum != per*peers.FanInSenders {
		b.Fatalf("received %d values, want %d", r.Sum, per*peers.FanInSenders)
	}
	peers.ReportFanIn(b, per*peers.FanInSenders)
}

type inboxIdler struct {
	In channel.ID
	HP int32
}

func (i *inboxIdler) Step(t *tasklet.T) tasklet.Op { return t.Recv(i.In) }

// stacklessIdle: tasklets each blocked on a channel of its own.
func stacklessIdle(b *testing.B) {
	peers.ReportIdle(b, func() func() {
		s := scheduler.New()
		for range peers.IdleActors {
			s.Spawn(&inboxIdler{In: s.NewChannel(0)})
		}
		if err := s.Run(context.Background()); err == nil {
			b.Fatal("want a deadlock error with every tasklet blocked")
		}
		if s.Len() != peers.IdleActors {
			b.Fatalf("%d tasklets alive, want %d", s.Len(), peers.IdleActors)
		}
		return func() { _ = s.Len() }
	})
}

func BenchmarkPingPong(b *testing.B) {
	b.Run("stackless", stacklessPingPong)
	b.Run("goroutines", goroutinePingPong)
}

func BenchmarkFanIn(b *testing.B) {
	b.Run("stackless", stacklessFanIn)
	b.Run("goroutines", goroutineFanIn)
}

func BenchmarkSpawn(b *testing.B) {
	b.Run("stackless", stacklessSpawn)
	b.Run("goroutines", goroutineSpawn)
}

func BenchmarkSkynet(b *testing.B) {
	b.Run("stackless", stacklessSkynet)
	b.Run("goroutines", goroutineSkynet)
}

func BenchmarkIdleActor(b *testing.B) {
	b.Run("stackless", stacklessIdle)
	b.Run("goroutines", goroutineIdle)
}
