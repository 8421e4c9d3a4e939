package ipc_test

import (
	"context"
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/ipc"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

var secret = []byte("an example cluster secret, 32 bytes")

// linkedPair makes nodes 1 and 2, links them in memory and runs their
// schedulers until ctx ends. The schedulers start after the link is up:
// the node holds its scheduler while it has links, so Run waits for
// network input instead of returning when nothing is left to do.
func linkedPair(ctx context.Context, reg *pickle.Registry) (*ipc.Node, *ipc.Node, error) {
	n1 := ipc.NewNode(scheduler.New(scheduler.WithNode(1)), reg, ipc.WithSecret(secret))
	n2 := ipc.NewNode(scheduler.New(scheduler.WithNode(2)), reg, ipc.WithSecret(secret))
	if err := ipc.ConnectPair(n1, n2); err != nil {
		return nil, nil, err
	}
	go n1.Scheduler().Run(ctx)
	go n2.Scheduler().Run(ctx)
	return n1, n2, nil
}

// greeter sends one greeting on Ch.
type greeter struct {
	Ch   channel.ID
	Sent bool
}

func (g *greeter) Step(t *tasklet.T) tasklet.Op {
	if g.Sent {
		return t.Exit()
	}
	g.Sent = true
	return t.Send(g.Ch, "hello from node 1")
}

// printer prints the values it receives until its channel closes.
type printer struct {
	Ch   channel.ID
	done chan struct{}
}

func (p *printer) Step(t *tasklet.T) tasklet.Op {
	if v := t.Value(); v != nil {
		fmt.Println(v)
		close(p.done)
		return t.Exit()
	}
	return t.Recv(p.Ch)
}

// Two nodes in one process: a tasklet on node 1 sends on a channel that
// lives on node 2, where another tasklet receives it.
func ExampleConnectPair() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1, n2, err := linkedPair(ctx, pickle.Default)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n1.Close()
	defer n2.Close()
	p := &printer{done: make(chan struct{})}
	ready := make(chan struct{})
	n2.Scheduler().Do(func(s *scheduler.Scheduler) {
		p.Ch = s.NewChannel(0) // its home is node 2
		s.Spawn(p)
		close(ready)
	})
	<-ready
	n1.Scheduler().Do(func(s *scheduler.Scheduler) { s.Spawn(&greeter{Ch: p.Ch}) })
	<-p.done
	// Output: hello from node 1
}

// A control call runs a named handler on another node: the coordinator of
// a cluster builds spawn, ps and kill on it.
func ExampleNode_Call() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1, n2, err := linkedPair(ctx, pickle.Default)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n1.Close()
	defer n2.Close()
	var out []byte
	n2.Handle("count", func(payload []byte) ([]byte, error) {
		return fmt.Appendf(nil, "node 2 counted %d bytes", len(payload)), nil
	})
	out, err = n1.Call(ctx, 2, "count", []byte("four"))
	fmt.Println(string(out), err)
	_, err = n1.Call(ctx, 2, "missing", nil)
	fmt.Println(err)
	// Output:
	// node 2 counted 4 bytes <nil>
	// ipc: node 2, control "missing": ipc: no handler for that control kind
}

// counter counts its steps; it pauses after each one.
type counter struct{ Steps int }

func (c *counter) Step(t *tasklet.T) tasklet.Op {
	c.Steps++
	return t.Pause()
}

// Migrate moves a tasklet between nodes; it keeps its state.
func ExampleNode_Migrate() {
	reg := pickle.NewRegistry()
	reg.MustRegister("example.counter", 1, &counter{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1, n2, err := linkedPair(ctx, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n1.Close()
	defer n2.Close()
	ids := make(chan tasklet.ID, 1)
	n1.Scheduler().Do(func(s *scheduler.Scheduler) { ids <- s.SpawnPaused(&counter{Steps: 41}) })
	id := <-ids
	if err := n1.Migrate(ctx, id, 2); err != nil {
		fmt.Println(err)
		return
	}
	steps := make(chan int, 1)
	n2.Scheduler().Do(func(s *scheduler.Scheduler) {
		steps <- s.Behavior(id).(*counter).Steps
	})
	fmt.Println("on node 2 with", <-steps, "steps")
	// Output: on node 2 with 41 steps
}
