package hollywood

// Hollywood (github.com/anthdm/hollywood), as its README shows: one engine
// from NewEngineConfig, actors as Receivers made by a Producer, spawned
// with default options, messages sent with Context.Send.

import (
	"strconv"
	"sync"
	"testing"

	"github.com/anthdm/hollywood/actor"

	"github.com/stackless-go/stackless/bench/peers"
)

func hwEngine(b *testing.B) *actor.Engine {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		b.Fatal(err)
	}
	return e
}

type hwBall struct{}

var theBall = &hwBall{} // one message value: no allocation per send for boxing

// hwPong sends every ball back to whoever sent it.
type hwPong struct{}

func (hwPong) Receive(c *actor.Context) {
	if m, ok := c.Message().(*hwBall); ok {
		c.Send(c.Sender(), m)
	}
}

// hwPing counts the balls it gets and serves again until left runs out.
type hwPing struct {
	pong *actor.PID
	left int
	done chan struct{}
}

type hwServe struct{ pong *actor.PID }

func (p *hwPing) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case hwServe:
		p.pong = m.pong
		c.Send(p.pong, theBall)
	case *hwBall:
		p.left -= 2 // the ball went there and back
		if p.left <= 0 {
			close(p.done)
			return
		}
		c.Send(p.pong, m)
	}
}

// hollywoodPingPong: op = one message delivered (half a round trip).
func hollywoodPingPong(b *testing.B) {
	e := hwEngine(b)
	done := make(chan struct{})
	pong := e.Spawn(func() actor.Receiver { return hwPong{} }, "pong")
	ping := e.Spawn(func() actor.Receiver { return &hwPing{left: b.N, done: done} }, "ping")
	b.ReportAllocs()
	b.ResetTimer()
	e.Send(ping, hwServe{pong: pong})
	<-done
	b.StopTimer()
	<-e.Poison(ping).Done()
	<-e.Poison(pong).Done()
}

type hwSink struct {
	left int
	done chan struct{}
}

func (s *hwSink) Receive(c *actor.Context) {
	if _, ok := c.Message().(*hwBall); ok {
		s.left--
		if s.left == 0 {
			close(s.done)
		}
	}
}

type hwSender struct {
	to *actor.PID
	n  int
}

func (s *hwSender) Receive(c *actor.Context) {
	if _, ok := c.Message().(actor.Started); ok {
		for range s.n {
			c.Send(s.to, theBall)
		}
	}
}

// hollywoodFanIn: 1,000 sender actors send to one receiver actor as they
// start; op = one message received.
func hollywoodFanIn(b *testing.B) {
	e := hwEngine(b)
	per := (b.N + peers.FanInSenders - 1) / peers.FanInSenders
	done := make(chan struct{})
	sink := e.Spawn(func() actor.Receiver { return &hwSink{left: per * peers.FanInSenders, done: done} }, "sink")
	b.ReportAllocs()
	b.ResetTimer()
	senders := make([]*actor.PID, peers.FanInSenders)
	for i := range senders {
		senders[i] = e.Spawn(func() actor.Receiver { return &hwSender{to: sink, n: per} }, "sender", actor.WithID(strconv.Itoa(i)))
	}
	<-done
	b.StopTimer()
	peers.ReportFanIn(b, per*peers.FanInSenders)
	for _, pid := range append(senders, sink) {
		<-e.Poison(pid).Done()
	}
}

// hwExiter stops itself once started and reports its end.
type hwExiter struct{ wg *sync.WaitGroup }

func (x hwExiter) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case actor.Started:
		c.Engine().Poison(c.PID())
	case actor.Stopped:
		x.wg.Done()
	}
}

// hollywoodSpawn: op = spawn one actor that stops itself once started, and
// see it stopped (in batches of 1,024).
func hollywoodSpawn(b *testing.B) {
	e := hwEngine(b)
	var wg sync.WaitGroup
	x := hwExiter{wg: &wg}
	b.ReportAllocs()
	for i := range b.N {
		wg.Add(1)
		e.Spawn(func() actor.Receiver { return x }, "exiter", actor.WithID(strconv.Itoa(i)))
		if i%peers.SpawnBatch == peers.SpawnBatch-1 {
			wg.Wait()
		}
	}
	wg.Wait()
}

// hwNode is a node of the Skynet tree.
type hwNode struct {
	num, size int64
	parent    *actor.PID
	sum       int64
	got       int
}

func (n *hwNode) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		if n.size == 1 {
			c.Send(n.parent, n.num)
			c.Engine().Poison(c.PID())
			return
		}
		sub := n.size / 10
		for i := range int64(10) {
			child := &hwNode{num: n.num + i*sub, size: sub, parent: c.PID()}
			c.SpawnChild(func() actor.Receiver { return child }, "n", actor.WithID(strconv.FormatInt(i, 10)))
		}
	case int64:
		n.sum += m
		n.got++
		if n.got == 10 {
			c.Send(n.parent, n.sum)
			c.Engine().Poison(c.PID())
		}
	}
}

type hwResult struct{ out chan int64 }

func (r hwResult) Receive(c *actor.Context) {
	if v, ok := c.Message().(int64); ok {
		r.out <- v
	}
}

// hollywoodSkynet: op = the whole tree; every node stops after reporting.
func hollywoodSkynet(b *testing.B) {
	e := hwEngine(b)
	out := make(chan int64, 1)
	res := e.Spawn(func() actor.Receiver { return hwResult{out: out} }, "result")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		root := &hwNode{size: peers.SkynetLeaves, parent: res}
		e.Spawn(func() actor.Receiver { return root }, "skynet", actor.WithID(strconv.Itoa(i)))
		if got := <-out; got != peers.SkynetSum(peers.SkynetLeaves) {
			b.Fatalf("skynet sum %d, want %d", got, peers.SkynetSum(peers.SkynetLeaves))
		}
	}
	b.StopTimer()
	peers.ReportSkynet(b)
	<-e.Poison(res).Done()
}

type hwIdle struct{ hp int32 }

func (*hwIdle) Receive(*actor.Context) {}

// hollywoodIdle: actors spawned with default options, started, then idle.
func hollywoodIdle(b *testing.B) {
	peers.ReportIdle(b, func() func() {
		e := hwEngine(b)
		pids := make([]*actor.PID, peers.IdleActors)
		for i := range pids {
			pids[i] = e.Spawn(func() actor.Receiver { return &hwIdle{} }, "idle", actor.WithID(strconv.Itoa(i)))
		}
		return func() {
			for _, pid := range pids {
				<-e.Poison(pid).Done()
			}
		}
	})
}

func BenchmarkPingPong(b *testing.B) {
	b.Run("hollywood", hollywoodPingPong)
}

func BenchmarkFanIn(b *testing.B) {
	b.Run("hollywood", hollywoodFanIn)
}

func BenchmarkSpawn(b *testing.B) {
	b.Run("hollywood", hollywoodSpawn)
}

func BenchmarkSkynet(b *testing.B) {
	b.Run("hollywood", hollywoodSkynet)
}

func BenchmarkIdleActor(b *testing.B) {
	b.Run("hollywood", hollywoodIdle)
}
