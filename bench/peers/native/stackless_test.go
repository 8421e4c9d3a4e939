package native

// stackless: ping-pong, spawn and Skynet are the library's own core
// benchmarks (internal/benchcore, also run by `make bench`), so both suites
// report the same figure, and fan-in runs the core FanIn benchmark's world;
// the idle inbox is written here.

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

// stacklessSkynetDepthFirst: the same tree under Go's scheduling rules
// (scheduler.WithDepthFirst, channels where the sender goes on), the rules
// the goroutine peer runs by.
func stacklessSkynetDepthFirst(b *testing.B) {
	benchcore.SkynetDepthFirst(b)
	peers.ReportSkynet(b)
}

// stacklessFanIn: 1,000 tasklets send on one channel buffered to 1,024 with
// preference 1 (a sender goes on, Go's rule), which a server tasklet drains
// with TryRecvMany (benchcore.NewFanIn, the core FanIn benchmark's world);
// op = one value received.
func stacklessFanIn(b *testing.B) {
	total := (b.N + peers.FanInSenders - 1) / peers.FanInSenders * peers.FanInSenders
	s, received := benchcore.NewFanIn(total)
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := received(); got != total {
		b.Fatalf("received %d values, want %d", got, total)
	}
	peers.ReportFanIn(b, total)
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

// BenchmarkSkynetWarm is Skynet run with -benchtime 3x (make bench-peers),
// as the core benchmark is: testing runs one tree first, the process's
// cold one, which the figure leaves out, then the three it averages, each
// on a heap that has grown. A cold tree is mostly first touches of memory,
// which cost this VM about 11 us a 4 KiB page. Only stackless and
// goroutines: the frameworks trail goroutines by 5x or more, so they
// cannot be the best peer.
func BenchmarkSkynetWarm(b *testing.B) {
	b.Run("stackless", stacklessSkynet)
	b.Run("goroutines", goroutineSkynet)
}

// BenchmarkSkynetDepthFirst is Skynet with stackless scheduling as Go
// does: a spawned tasklet, and a receiver a send woke, run next, and a
// sender goes on after its hand-off. Skynet keeps to the Stackless rules
// (a new tasklet at the back, the whole tree alive at once before a leaf
// runs); here both peers run the same order, depth first, and stackless
// reuses a few dozen records where the Stackless order holds 1.1 M. The
// goroutine peer is the same program as in Skynet, in a process of its
// own, so each row compares two cold processes.
func BenchmarkSkynetDepthFirst(b *testing.B) {
	b.Run("stackless", stacklessSkynetDepthFirst)
	b.Run("goroutines", goroutineSkynet)
}

// BenchmarkSkynetHugePages is Skynet, one cold tree a process, after
// scheduler.ReserveHeap has advised huge pages for the heap the tree will
// take, for both peers: a cold tree is mostly the kernel's faults on fresh
// 4 KiB pages, and this row shows each peer with 2 MiB ones. Skipped
// where the kernel has no transparent huge pages (the reason is printed).
func BenchmarkSkynetHugePages(b *testing.B) {
	b.Run("stackless", withHugePages(stacklessSkynet))
	b.Run("goroutines", withHugePages(goroutineSkynet))
}

// BenchmarkSkynetWarmHugePages is SkynetWarm (-benchtime 3x: three trees
// after one left out) after scheduler.ReserveHeap, for both peers: the
// trees reuse a heap on huge pages, which also spares them TLB misses.
func BenchmarkSkynetWarmHugePages(b *testing.B) {
	b.Run("stackless", withHugePages(stacklessSkynet))
	b.Run("goroutines", withHugePages(goroutineSkynet))
}

// skynetHeap is more than either peer's tree takes (178 MB and 100 MB).
const skynetHeap = 256 << 20

func withHugePages(run func(*testing.B)) func(*testing.B) {
	return func(b *testing.B) {
		if _, err := scheduler.ReserveHeap(skynetHeap); err != nil {
			b.Skip(err)
		}
		b.ResetTimer()
		run(b)
	}
}

func BenchmarkIdleActor(b *testing.B) {
	b.Run("stackless", stacklessIdle)
	b.Run("goroutines", goroutineIdle)
}
