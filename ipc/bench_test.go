package ipc

// Benchmarks of issue 5. Unless a benchmark says otherwise, its two nodes
// run in this process, each scheduler on its own goroutine, linked over a
// real unix socket (so every message crosses the kernel). Targets:
// ping-pong <= 20 µs per value, stream >= 2,000,000 values/s, migrate
// <= 50 µs per move.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// benchPair is two nodes (1 and 2) linked over a unix socket, running.
type benchPair struct {
	s      [2]*scheduler.Scheduler
	n      [2]*Node
	cancel context.CancelFunc
	runs   [2]chan error
}

func newBenchPair(b *testing.B, hooks ...func(prev, next tasklet.ID)) *benchPair {
	b.Helper()
	p := &benchPair{}
	reg := testRegistry()
	for i := range 2 {
		opts := []scheduler.Option{scheduler.WithNode(uint16(i + 1))}
		if i < len(hooks) && hooks[i] != nil {
			opts = append(opts, scheduler.WithScheduleHook(hooks[i]))
		}
		p.s[i] = scheduler.New(opts...)
		p.n[i] = NewNode(p.s[i], reg, WithSecret(testSecret), WithLogger(newLogSink().logger()))
	}
	sock := filepath.Join(tempDirB(b), "n1.sock")
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	require.NoError(b, p.n[0].Listen(ctx, "unix", sock))
	_, err := p.n[1].Dial(ctx, "unix", sock)
	require.NoError(b, err)
	require.NoError(b, p.n[0].WaitPeer(ctx, 2))
	for i := range 2 {
		p.runs[i] = make(chan error, 1)
		go func() { p.runs[i] <- p.s[i].Run(ctx) }()
	}
	return p
}

func (p *benchPair) on(i int, fn func(s *scheduler.Scheduler)) {
	done := make(chan struct{})
	p.s[i].Do(func(s *scheduler.Scheduler) { fn(s); close(done) })
	<-done
}

func (p *benchPair) close() {
	p.n[0].Close()
	p.n[1].Close()
	p.cancel()
	<-p.runs[0]
	<-p.runs[1]
}

// tempDirB is a short temporary folder (socket paths must stay short);
// Listen creates the socket folder inside it with mode 0700.
func tempDirB(b *testing.B) string {
	b.Helper()
	d, err := os.MkdirTemp("", "ipcb")
	require.NoError(b, err)
	b.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "sock")
}

// pinger sends N values on Out, waiting for each answer on In.
type pinger struct {
	Out, In channel.ID
	N       int
	phase   int
	done    chan struct{}
}

func (p *pinger) Step(t *tasklet.T) tasklet.Op {
	switch p.phase {
	case 0:
		p.phase = 1
		return t.Send(p.Out, p.N)
	case 1:
		p.phase = 2
		return t.Recv(p.In)
	}
	if p.N--; p.N == 0 {
		close(p.done)
		return t.Exit()
	}
	p.phase = 1
	return t.Send(p.Out, p.N)
}

// echoer answers every value it receives on In with the same value on Out.
type echoer struct {
	In, Out channel.ID
	got     bool
}

func (e *echoer) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil {
		return t.Exit()
	}
	if e.got {
		e.got = false
		return t.Send(e.Out, t.Value())
	}
	e.got = true
	return t.Recv(e.In)
}

// BenchmarkRemotePingPong: one op is one value through an unbuffered
// channel whose sender and receiver are on different nodes (a round trip
// is two ops: ping to node 2, pong back to node 1). In-process nodes, each
// on its own goroutine, over a real unix socket.
func BenchmarkRemotePingPong(b *testing.B) {
	p := newBenchPair(b)
	defer p.close()
	var ping, pong channel.ID
	p.on(1, func(s *scheduler.Scheduler) { ping = s.NewChannel(0) })
	p.on(0, func(s *scheduler.Scheduler) { pong = s.NewChannel(0) })
	p.on(1, func(s *scheduler.Scheduler) { s.Spawn(&echoer{In: ping, Out: pong}) })
	pg := &pinger{Out: ping, In: pong, N: max(b.N/2, 1), done: make(chan struct{})}
	b.ReportAllocs()
	b.ResetTimer()
	p.on(0, func(s *scheduler.Scheduler) { s.Spawn(pg) })
	<-pg.done
	b.StopTimer()
}

// producer sends N values on Out.
type producer struct {
	Out channel.ID
	N   int
}

func (p *producer) Step(t *tasklet.T) tasklet.Op {
	if t.Err() != nil || p.N == 0 {
		return t.Exit()
	}
	p.N--
	return t.Send(p.Out, p.N)
}

// consumer receives N values from In.
type consumer struct {
	In   channel.ID
	N    int
	got  bool
	done chan struct{}
}

func (c *consumer) Step(t *tasklet.T) tasklet.Op {
	if c.got {
		if c.N--; c.N == 0 {
			close(c.done)
			return t.Exit()
		}
	}
	c.got = true
	return t.Recv(c.In)
}

// BenchmarkRemoteStream: one op is one value through a buffered channel
// (capacity 1024) homed at node 2, sent by 1024 producer tasklets on node
// 1 to one consumer on node 2. Every remote send waits for its DONE, so
// values are pipelined by having many senders in flight at once; their
// OPs and DONEs share frames and system calls. It reports values/s.
// In-process nodes over a unix socket.
func BenchmarkRemoteStream(b *testing.B) {
	producers := streamProducers()
	p := newBenchPair(b)
	defer p.close()
	var ch channel.ID
	p.on(1, func(s *scheduler.Scheduler) { ch = s.NewChannel(1024) })
	n := max(b.N, producers)
	c := &consumer{In: ch, N: n, done: make(chan struct{})}
	p.on(1, func(s *scheduler.Scheduler) { s.Spawn(c) })
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	p.on(0, func(s *scheduler.Scheduler) {
		for i := range producers {
			k := n / producers
			if i < n%producers {
				k++
			}
			s.Spawn(&producer{Out: ch, N: k})
		}
	})
	<-c.done
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "values/s")
	// Frames a value, both ways: 2 when every value is a round trip.
	b.ReportMetric(float64(p.n[0].Stats().FramesOut+p.n[1].Stats().FramesOut)/float64(n), "frames/value")
}

// streamProducers is the number of producer tasklets of the stream
// benchmarks: 1024, or IPC_BENCH_PRODUCERS (1: one sender's stream).
func streamProducers() int {
	if k, err := strconv.Atoi(os.Getenv("IPC_BENCH_PRODUCERS")); err == nil && k > 0 {
		return k
	}
	return 1024
}

// hopper2 is a tasklet that pauses after every step, so that a benchmark
// can move it and see it resume.
type hopper2 struct{ Steps int }

func (h *hopper2) Step(t *tasklet.T) tasklet.Op {
	h.Steps++
	return t.Pause()
}

// BenchmarkMigrate: one op moves a paused tasklet to the other node
// (emigrate, encode, MIGRATE, decode, immigrate, MIGRATED) and resumes it
// there: Insert, and its next step runs. It alternates directions.
// In-process nodes over a unix socket.
func BenchmarkMigrate(b *testing.B) {
	stepped := make(chan struct{}, 1)
	var id tasklet.ID
	hook := func(_, next tasklet.ID) {
		if next == id {
			stepped <- struct{}{}
		}
	}
	p := newBenchPair(b, hook, hook)
	defer p.close()
	reg := p.n[0].reg
	reg.Register("ipcbench.hopper2", 1, &hopper2{})
	p.on(0, func(s *scheduler.Scheduler) { id = s.SpawnPaused(&hopper2{}) })
	ctx := context.Background()
	at := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		to := 1 - at
		if err := p.n[at].Migrate(ctx, id, uint16(to+1)); err != nil {
			b.Fatal(err)
		}
		p.s[to].Do(func(s *scheduler.Scheduler) { s.Insert(id) })
		<-stepped
		at = to
	}
	b.StopTimer()
}
