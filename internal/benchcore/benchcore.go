package benchcore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// Pair is one comparison: a tasklet benchmark and, when there is one, the
// same work done with goroutines.
type Pair struct {
	Name       string
	Op         string             // what one op is
	Tasklets   func(b *testing.B) // the stackless benchmark
	Goroutines func(b *testing.B) // the goroutine baseline; nil if none
	Metric     string             // the extra figure that matters, if any ("ns/switch", "B/tasklet")
	Heavy      bool               // takes seconds per op (Skynet)
}

// Suite lists the core comparisons in the order they are reported.
func Suite() []Pair {
	return []Pair{
		{Name: "Yield", Op: "one switch among 100 yielding tasklets", Tasklets: Yield, Goroutines: GoroutineYield, Metric: "ns/switch"},
		{Name: "ChannelPingPong", Op: "one value handed over an unbuffered channel", Tasklets: ChannelPingPong, Goroutines: GoroutineChannelPingPong},
		{Name: "Spawn", Op: "spawn one tasklet and run it to its exit", Tasklets: Spawn, Goroutines: GoroutineSpawn},
		{Name: "Skynet", Op: "the whole Skynet tree of 1,111,111 tasklets", Tasklets: Skynet, Goroutines: GoroutineSkynet, Heavy: true},
		{Name: "IdleTasklets", Op: "build a world of 100,000 blocked tasklets", Tasklets: IdleTasklets, Metric: "B/tasklet"},
		{Name: "IdleActors", Op: "build a world of 100,000 tasklets blocked on a channel each", Tasklets: IdleActors, Metric: "B/actor"},
	}
}

// yielder yields N times, then exits.
type yielder struct{ N int }

func (y *yielder) Step(t *tasklet.T) tasklet.Op {
	if y.N == 0 {
		return t.Exit()
	}
	y.N--
	return t.Yield()
}

// Yield: 100 tasklets yielding round robin; op = one switch.
func Yield(b *testing.B) {
	s := scheduler.New()
	per := b.N/100 + 1
	for range 100 {
		s.Spawn(&yielder{N: per})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(100*(per+1)), "ns/switch")
}

// GoroutineYield: the same with goroutines and runtime.Gosched; op = one
// Gosched.
func GoroutineYield(b *testing.B) {
	per := b.N/100 + 1
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
}

type pingSender struct {
	Ch channel.ID
	N  int
}

func (p *pingSender) Step(t *tasklet.T) tasklet.Op {
	if p.N == 0 {
		return t.Exit()
	}
	p.N--
	return t.Send(p.Ch, 1)
}

type pingReceiver struct {
	Ch  channel.ID
	N   int
	Sum int
}

func (p *pingReceiver) Step(t *tasklet.T) tasklet.Op {
	if v, ok := t.Value().(int); ok {
		p.Sum += v
	}
	if p.N == 0 {
		return t.Exit()
	}
	p.N--
	return t.Recv(p.Ch)
}

// ChannelPingPong: two tasklets and an unbuffered channel; op = one value
// handed from the sender to the receiver.
func ChannelPingPong(b *testing.B) {
	s := scheduler.New()
	ch := s.NewChannel(0)
	r := &pingReceiver{Ch: ch, N: b.N}
	s.Spawn(r)
	s.Spawn(&pingSender{Ch: ch, N: b.N})
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if r.Sum != b.N {
		b.Fatalf("received %d values, want %d", r.Sum, b.N)
	}
}

// GoroutineChannelPingPong: the same with two goroutines and an unbuffered
// Go channel; op = one value handed over.
func GoroutineChannelPingPong(b *testing.B) {
	ch := make(chan int)
	done := make(chan int)
	go func() {
		sum := 0
		for v := range ch {
			sum += v
		}
		done <- sum
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ch <- 1
	}
	close(ch)
	if sum := <-done; sum != b.N {
		b.Fatalf("received %d", sum)
	}
}

type exiter struct{}

func (exiter) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// Spawn: op = spawn one tasklet and run it to its exit.
func Spawn(b *testing.B) {
	s := scheduler.New()
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		s.Spawn(exiter{})
		if i&1023 == 1023 {
			if err := s.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Run(ctx); err != nil {
		b.Fatal(err)
	}
}

// GoroutineSpawn: op = start one goroutine and wait for it to end.
func GoroutineSpawn(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	for i := range b.N {
		wg.Add(1)
		go wg.Done()
		if i&1023 == 1023 {
			wg.Wait()
		}
	}
	wg.Wait()
}

// idler blocks on a channel receive forever: a small behavior.
type idler struct {
	Ch channel.ID
	HP int32
}

func (i *idler) Step(t *tasklet.T) tasklet.Op { return t.Recv(i.Ch) }

// IdleTasklets: 100,000 tasklets blocked on 1,000 channels; op = build that
// world. The figure that matters is B/tasklet: live heap per blocked tasklet
// after runtime.GC, behavior included.
func IdleTasklets(b *testing.B) {
	idleWorld(b, 1000, "B/tasklet")
}

// IdleActors: 100,000 actors, each a tasklet blocked on a channel of its own
// (its inbox); op = build that world. The figure that matters is B/actor:
// live heap per actor after runtime.GC, behavior and inbox included.
func IdleActors(b *testing.B) {
	idleWorld(b, 0, "B/actor")
}

// idleWorld builds 100,000 blocked tasklets, receiving from nchans shared
// channels or (nchans 0) from one channel each, and reports the live heap
// per tasklet as unit.
func idleWorld(b *testing.B, nchans int, unit string) {
	const n = 100_000
	LiveHeap(b, n, unit, func() func() {
		s := scheduler.New()
		chans := make([]channel.ID, nchans)
		for i := range chans {
			chans[i] = s.NewChannel(0)
		}
		for i := range n {
			var ch channel.ID
			if nchans == 0 {
				ch = s.NewChannel(0)
			} else {
				ch = chans[i%nchans]
			}
			s.Spawn(&idler{Ch: ch})
		}
		if err := s.Run(context.Background()); err == nil {
			b.Fatal("want a deadlock error with every tasklet blocked")
		}
		if s.Len() != n {
			b.Fatalf("%d tasklets alive, want %d", s.Len(), n)
		}
		return func() { runtime.KeepAlive(s) }
	})
}

// LiveHeap reports the live heap, after runtime.GC, that build leaves per
// one of n (tasklets, actors) as unit: build makes a world and returns a
// func that keeps it alive while the heap is read.
func LiveHeap(b *testing.B, n int, unit string, build func() (keep func())) {
	var per float64
	b.ReportAllocs()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep := build()
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		keep()
	}
	b.ReportMetric(per, unit)
}

// skynet is one node of the Skynet tree: a leaf sends its number, a parent
// spawns Div children, sums what they send and sends the sum up.
type skynet struct {
	Num, Size, Div int64
	Out, In        channel.ID
	Sum            int64
	Got            int64
	PC             uint8
	GoRules        bool // SkynetDepthFirst: channels where the sender goes on
}

func (k *skynet) Step(t *tasklet.T) tasklet.Op {
	switch k.PC {
	case 0:
		if k.Size == 1 {
			k.PC = 2
			return t.Send(k.Out, k.Num)
		}
		k.In = t.NewChannel(0)
		if k.GoRules {
			t.Host().(*scheduler.Scheduler).Channel(k.In).SetPreference(channel.PreferSender)
		}
		sub := k.Size / k.Div
		for i := range k.Div {
			c := scheduler.Make[skynet](t.Host())
			*c = skynet{Num: k.Num + i*sub, Size: sub, Div: k.Div, Out: k.In, GoRules: k.GoRules}
			t.Spawn(c)
		}
		k.PC = 1
		return t.Recv(k.In)
	case 1:
		k.Sum += t.Value().(int64)
		k.Got++
		if k.Got < k.Div {
			return t.Recv(k.In)
		}
		t.Close(k.In)
		k.PC = 2
		return t.Send(k.Out, k.Sum)
	}
	return t.Exit()
}

// collector receives one value and keeps it.
type collector struct {
	Ch  channel.ID
	Got int64
	PC  uint8
}

func (c *collector) Step(t *tasklet.T) tasklet.Op {
	if c.PC == 1 {
		c.Got = t.Value().(int64)
		return t.Exit()
	}
	c.PC = 1
	return t.Recv(c.Ch)
}

const skynetSize = 1_000_000 // leaves; the tree has 1,111,111 tasklets

func skynetSum(size int64) int64 { return size * (size - 1) / 2 }

// RunSkynet runs a Skynet tree of size leaves (a power of 10) as tasklets
// and checks the sum.
func RunSkynet(size int64) error { return runSkynet(size, false) }

// RunSkynetDepthFirst runs the same tree with Go's scheduling rules: a
// spawned tasklet, and a receiver a send woke, run next
// (scheduler.WithDepthFirst), and a sender goes on after handing its value
// over (channels with preference 1). The tree then runs depth first, as
// goroutines do, and keeps a few dozen tasklets alive instead of 1.1 M.
func RunSkynetDepthFirst(size int64) error { return runSkynet(size, true) }

func runSkynet(size int64, goRules bool) error {
	var opts []scheduler.Option
	if goRules {
		opts = append(opts, scheduler.WithDepthFirst())
	}
	s := scheduler.New(opts...)
	out := s.NewChannel(0)
	c := &collector{Ch: out}
	s.Spawn(c)
	s.Spawn(&skynet{Size: size, Div: 10, Out: out, GoRules: goRules})
	if err := s.Run(context.Background()); err != nil {
		return err
	}
	if c.Got != skynetSum(size) {
		return fmt.Errorf("skynet sum %d, want %d", c.Got, skynetSum(size))
	}
	return nil
}

// Skynet: the Skynet tree of 1,111,111 tasklets; op = the whole tree.
func Skynet(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if err := RunSkynet(skynetSize); err != nil {
			b.Fatal(err)
		}
	}
}

// SkynetDepthFirst: the Skynet tree under Go's scheduling rules
// (RunSkynetDepthFirst); op = the whole tree. GoroutineSkynet is its
// baseline too: goroutines run by those rules. `make bench` runs it; the
// Suite (`stackless bench`) keeps to the Stackless rules.
func SkynetDepthFirst(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if err := RunSkynetDepthFirst(skynetSize); err != nil {
			b.Fatal(err)
		}
	}
}

func goSkynet(num, size, div int64, out chan<- int64) {
	if size == 1 {
		out <- num
		return
	}
	in := make(chan int64)
	sub := size / div
	for i := range div {
		go goSkynet(num+i*sub, sub, div, in)
	}
	var sum int64
	for range div {
		sum += <-in
	}
	out <- sum
}

// RunGoroutineSkynet runs a Skynet tree of size leaves (a power of 10) with
// one goroutine per node and checks the sum.
func RunGoroutineSkynet(size int64) error {
	out := make(chan int64)
	go goSkynet(0, size, 10, out)
	if got := <-out; got != skynetSum(size) {
		return fmt.Errorf("skynet sum %d, want %d", got, skynetSum(size))
	}
	return nil
}

// GoroutineSkynet: the same tree with one goroutine per node and unbuffered
// Go channels; op = the whole tree.
func GoroutineSkynet(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if err := RunGoroutineSkynet(skynetSize); err != nil {
			b.Fatal(err)
		}
	}
}
