package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ping serves N balls on Out and waits for each to come back on In; then it
// closes Out.
type ping struct {
	Out, In channel.ID
	N       int
	PC      int
}

func (p *ping) Step(t *tasklet.T) tasklet.Op {
	switch p.PC {
	case 0: // serve
		if p.N == 0 {
			t.Close(p.Out)
			return t.Exit()
		}
		p.N--
		p.PC = 1
		return t.Send(p.Out, "ping")
	case 1: // wait for the return
		p.PC = 2
		return t.Recv(p.In)
	}
	fmt.Println(t.Value())
	p.PC = 0
	return t.Yield()
}

// pong returns every ball it gets until its channel is closed.
type pong struct {
	In, Out channel.ID
	Waiting bool
}

func (p *pong) Step(t *tasklet.T) tasklet.Op {
	if !p.Waiting {
		p.Waiting = true
		return t.Recv(p.In)
	}
	p.Waiting = false
	if t.Err() != nil { // channel.ErrClosed: the game is over
		return t.Exit()
	}
	fmt.Println(t.Value())
	return t.Send(p.Out, "pong")
}

func ExampleScheduler_Run() {
	s := scheduler.New()
	there, back := s.NewChannel(0), s.NewChannel(0)
	s.Spawn(&pong{In: there, Out: back})
	s.Spawn(&ping{Out: there, In: back, N: 3})
	if err := s.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("tasklets left:", s.Len())
	// Output:
	// ping
	// pong
	// ping
	// pong
	// ping
	// pong
	// tasklets left: 0
}

// patrol walks from post to post, resting 100ms at each.
type patrol struct{ Post int }

func (p *patrol) Step(t *tasklet.T) tasklet.Op {
	fmt.Printf("%v: guard at post %d\n", t.Now(), p.Post)
	p.Post++
	return t.Sleep(100 * time.Millisecond)
}

func ExampleScheduler_Tick() {
	clock := scheduler.NewVirtualClock(0)
	s := scheduler.New(scheduler.WithClock(clock))
	s.Spawn(&patrol{})
	for frame := 0; frame < 5; frame++ { // a game loop at 20 frames a second
		if err := s.Tick(); err != nil {
			fmt.Println(err)
		}
		clock.Advance(50 * time.Millisecond)
	}
	// Output:
	// 0s: guard at post 0
	// 100ms: guard at post 1
	// 200ms: guard at post 2
}

// counter counts to 10 without ever yielding.
type counter struct{ N int }

func (c *counter) Step(t *tasklet.T) tasklet.Op {
	c.N++
	if c.N == 10 {
		return t.Exit()
	}
	return t.Continue()
}

func ExampleScheduler_RunBudget() {
	s := scheduler.New()
	busy := &counter{}
	s.Spawn(busy)
	for { // Stackless's autoschedule loop: 4 steps per tasklet per switch
		id, err := s.RunBudget(context.Background(), 4, scheduler.Timeslice)
		if err != nil {
			fmt.Println(err)
			return
		}
		if id == 0 {
			break
		}
		fmt.Printf("interrupted %v at %d\n", id, busy.N)
		s.Insert(id) // or s.Kill(id, false)
	}
	fmt.Println("done at", busy.N)
	// Output:
	// interrupted t1 at 4
	// interrupted t1 at 8
	// done at 10
}

// waiter waits for a greeting, giving up after a timeout.
type waiter struct {
	In      channel.ID
	Timeout time.Duration
	Waiting bool
}

func (w *waiter) Step(t *tasklet.T) tasklet.Op {
	if w.Waiting {
		switch t.Chosen() {
		case 0:
			fmt.Printf("%v: got %q\n", t.Now(), t.Value())
			return t.Exit()
		case 1:
			fmt.Printf("%v: timed out\n", t.Now())
			w.Timeout *= 5
		}
	}
	w.Waiting = true
	return t.Select(tasklet.RecvCase(w.In), tasklet.TimeoutCase(w.Timeout))
}

// lateSender sleeps 5s, then sends.
type lateSender struct {
	Out channel.ID
	PC  int
}

func (l *lateSender) Step(t *tasklet.T) tasklet.Op {
	l.PC++
	switch l.PC {
	case 1:
		return t.Sleep(5 * time.Second)
	case 2:
		return t.Send(l.Out, "hello")
	}
	return t.Exit()
}

// Select with a timeout: the first wait times out at 2s, the second one
// gets the value sent at 5s. Run moves the virtual clock.
func Example_selectTimeout() {
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Spawn(&waiter{In: ch, Timeout: 2 * time.Second})
	s.Spawn(&lateSender{Out: ch})
	if err := s.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 2s: timed out
	// 5s: got "hello"
}

// receiver receives once.
type receiver struct{ In channel.ID }

func (r *receiver) Step(t *tasklet.T) tasklet.Op {
	if t.Steps() == 1 {
		return t.Recv(r.In)
	}
	return t.Exit()
}

// Run reports a deadlock naming every blocked tasklet and its channels.
func Example_deadlock() {
	s := scheduler.New()
	ch := s.NewChannel(0)
	s.Spawn(&receiver{In: ch})
	err := s.Run(context.Background())
	fmt.Println(errors.Is(err, scheduler.ErrDeadlock))
	fmt.Println(err)
	// Output:
	// true
	// deadlock: 1 tasklet(s) blocked forever: t1 (*scheduler_test.receiver) receiving on ch1 (send to or close those channels, or Hold the scheduler while outside input can arrive)
}

// worker does a job per step until it is killed, then cleans up.
type worker struct{ Jobs int }

func (w *worker) Step(t *tasklet.T) tasklet.Op {
	if errors.Is(t.Err(), tasklet.ErrKilled) {
		fmt.Println("worker: cleaning up after", w.Jobs, "jobs")
		return t.Exit()
	}
	w.Jobs++
	return t.Yield()
}

func ExampleScheduler_Kill() {
	s := scheduler.New()
	id := s.Spawn(&worker{})
	for range 3 {
		s.Tick()
	}
	s.Kill(id, false) // its next step sees tasklet.ErrKilled
	if err := s.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	_, err := s.Info(id)
	fmt.Println(errors.Is(err, scheduler.ErrDead))
	// Output:
	// worker: cleaning up after 3 jobs
	// true
}

// squarer answers every number it receives on In with its square on Out,
// until In is closed.
type squarer struct {
	In, Out channel.ID
	Asked   bool
}

func (q *squarer) Step(t *tasklet.T) tasklet.Op {
	if !q.Asked {
		q.Asked = true
		return t.Recv(q.In)
	}
	q.Asked = false
	if t.Err() != nil { // channel.ErrClosed: no more questions
		return t.Exit()
	}
	n := t.Value().(int)
	return t.Send(q.Out, n*n)
}

// The host talks to a tasklet as Stackless's main tasklet does: Send and
// Recv run the tasklets until the operation completes.
func ExampleScheduler_Recv() {
	ctx := context.Background()
	s := scheduler.New()
	in, out := s.NewChannel(0), s.NewChannel(0)
	s.Spawn(&squarer{In: in, Out: out})
	for n := 2; n <= 4; n++ {
		if err := s.Send(ctx, in, n); err != nil {
			fmt.Println(err)
			return
		}
		sq, err := s.Recv(ctx, out)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(n, "squared is", sq)
	}
	s.Close(in)
	fmt.Println("run:", s.Run(ctx), "tasklets left:", s.Len())
	_, err := s.Recv(ctx, out) // nobody will ever send
	fmt.Println(err)
	// Output:
	// 2 squared is 4
	// 3 squared is 9
	// 4 squared is 16
	// run: <nil> tasklets left: 0
	// deadlock: 1 tasklet(s) blocked forever: t0 (host) receiving on ch2 (send to or close those channels, or Hold the scheduler while outside input can arrive)
}

// crier says its name at every step, three times.
type crier struct {
	Name string
	N    int
}

func (a *crier) Step(t *tasklet.T) tasklet.Op {
	if a.N == 3 {
		return t.Exit()
	}
	a.N++
	fmt.Println(a.Name, a.N)
	return t.Yield()
}

// RunNext lets the host choose who steps first (Stackless tasklet.run());
// the round robin goes on from there.
func ExampleScheduler_RunNext() {
	s := scheduler.New()
	s.Spawn(&crier{Name: "scout"})
	alarm := s.SpawnPaused(&crier{Name: "alarm"})
	s.Tick()
	if err := s.RunNext(alarm); err != nil {
		fmt.Println(err)
	}
	s.Tick()
	s.Tick()
	// Output:
	// scout 1
	// alarm 1
	// scout 2
	// alarm 2
	// scout 3
}

// ReserveHeap before building a world of a million tasklets: on Linux with
// transparent huge pages (madvise or always) it advises them for the heap
// the world takes; elsewhere it says there are none, and the world is
// built as before.
func ExampleReserveHeap() {
	advised, err := scheduler.ReserveHeap(64 << 20)
	fmt.Println(advised > 0 || errors.Is(err, scheduler.ErrNoHugePages))
	// Output: true
}
