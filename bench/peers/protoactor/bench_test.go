package protoactor

// Proto.Actor (github.com/asynkron/protoactor-go), as its README shows: one
// ActorSystem, actors as structs with Receive(actor.Context), Props from a
// producer with default options, messages sent with Send (ping-pong with
// Request/Respond, which carries the sender).

import (
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stackless-go/stackless/bench/peers"
)

// newSystem is an actor system with default options but a silent logger:
// its log lines would land in the middle of the benchmark output.
func newSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}

type paBall struct{}

var paTheBall = &paBall{}

type paPong struct{}

func (paPong) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*paBall); ok {
		ctx.Respond(m)
	}
}

type paServe struct{ pong *actor.PID }

type paPing struct {
	pong *actor.PID
	left int
	done chan struct{}
}

func (p *paPing) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case paServe:
		p.pong = m.pong
		ctx.Request(p.pong, paTheBall)
	case *paBall:
		p.left -= 2 // the ball went there and back
		if p.left <= 0 {
			close(p.done)
			return
		}
		ctx.Request(p.pong, m)
	}
}

// protoPingPong: op = one message delivered (half a round trip).
func protoPingPong(b *testing.B) {
	sys := newSystem()
	defer sys.Shutdown()
	done := make(chan struct{})
	pong := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return paPong{} }))
	ping := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &paPing{left: b.N, done: done} }))
	b.ReportAllocs()
	b.ResetTimer()
	sys.Root.Send(ping, paServe{pong: pong})
	<-done
	b.StopTimer()
	_ = sys.Root.StopFuture(ping).Wait()
	_ = sys.Root.StopFuture(pong).Wait()
}

type paSink struct {
	left int
	done chan struct{}
}

func (s *paSink) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*paBall); ok {
		s.left--
		if s.left == 0 {
			close(s.done)
		}
	}
}

type paSender struct {
	to *actor.PID
	n  int
}

func (s *paSender) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		for range s.n {
			ctx.Send(s.to, paTheBall)
		}
	}
}

// protoFanIn: 1,000 sender actors send to one receiver actor as they
// start; op = one message received.
func protoFanIn(b *testing.B) {
	sys := newSystem()
	defer sys.Shutdown()
	per := (b.N + peers.FanInSenders - 1) / peers.FanInSenders
	done := make(chan struct{})
	sink := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &paSink{left: per * peers.FanInSenders, done: done} }))
	props := actor.PropsFromProducer(func() actor.Actor { return &paSender{to: sink, n: per} })
	b.ReportAllocs()
	b.ResetTimer()
	senders := make([]*actor.PID, peers.FanInSenders)
	for i := range senders {
		senders[i] = sys.Root.Spawn(props)
	}
	<-done
	b.StopTimer()
	peers.ReportFanIn(b, per*peers.FanInSenders)
	for _, pid := range append(senders, sink) {
		_ = sys.Root.StopFuture(pid).Wait()
	}
}

type paExiter struct{ wg *sync.WaitGroup }

func (x paExiter) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Stop(ctx.Self())
	case *actor.Stopped:
		x.wg.Done()
	}
}

// protoSpawn: op = spawn one actor that stops itself once started, and see
// it stopped (in batches of 1,024).
func protoSpawn(b *testing.B) {
	sys := newSystem()
	defer sys.Shutdown()
	var wg sync.WaitGroup
	x := paExiter{wg: &wg}
	props := actor.PropsFromProducer(func() actor.Actor { return x })
	b.ReportAllocs()
	for i := range b.N {
		wg.Add(1)
		sys.Root.Spawn(props)
		if i%peers.SpawnBatch == peers.SpawnBatch-1 {
			wg.Wait()
		}
	}
	wg.Wait()
}

type paNode struct {
	num, size int64
	parent    *actor.PID
	sum       int64
	got       int
}

func (n *paNode) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if n.size == 1 {
			ctx.Send(n.parent, n.num)
			ctx.Stop(ctx.Self())
			return
		}
		sub := n.size / 10
		for i := range int64(10) {
			child := &paNode{num: n.num + i*sub, size: sub, parent: ctx.Self()}
			ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return child }))
		}
	case int64:
		n.sum += m
		n.got++
		if n.got == 10 {
			ctx.Send(n.parent, n.sum)
			ctx.Stop(ctx.Self())
		}
	}
}

type paResult struct{ out chan int64 }

func (r paResult) Receive(ctx actor.Context) {
	if v, ok := ctx.Message().(int64); ok {
		r.out <- v
	}
}

// protoSkynet: op = the whole tree; every node stops after reporting.
func protoSkynet(b *testing.B) {
	sys := newSystem()
	defer sys.Shutdown()
	out := make(chan int64, 1)
	res := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return paResult{out: out} }))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		root := &paNode{size: peers.SkynetLeaves, parent: res}
		sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return root }))
		if got := <-out; got != peers.SkynetSum(peers.SkynetLeaves) {
			b.Fatalf("skynet sum %d, want %d", got, peers.SkynetSum(peers.SkynetLeaves))
		}
	}
	b.StopTimer()
	peers.ReportSkynet(b)
}

type paIdle struct{ hp int32 }

func (*paIdle) Receive(actor.Context) {}

// protoIdle: actors spawned with default props, started, then idle.
func protoIdle(b *testing.B) {
	peers.ReportIdle(b, func() func() {
		sys := newSystem()
		props := actor.PropsFromProducer(func() actor.Actor { return &paIdle{} })
		for range peers.IdleActors {
			sys.Root.Spawn(props)
		}
		return sys.Shutdown
	})
}

func BenchmarkPingPong(b *testing.B) {
	b.Run("protoactor", protoPingPong)
}

func BenchmarkFanIn(b *testing.B) {
	b.Run("protoactor", protoFanIn)
}

func BenchmarkSpawn(b *testing.B) {
	b.Run("protoactor", protoSpawn)
}

func BenchmarkSkynet(b *testing.B) {
	b.Run("protoactor", protoSkynet)
}

func BenchmarkIdleActor(b *testing.B) {
	b.Run("protoactor", protoIdle)
}
