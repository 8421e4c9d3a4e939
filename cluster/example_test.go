package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/stackless-go/stackless/cluster"
	"github.com/stackless-go/stackless/tasklet"
)

// A cluster of two worker processes: a ponger on worker 1 answers a pinger
// on worker 2 across processes; a client drives it like the CLI does.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "stx")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Config{
		Dir: dir, Workers: 2,
		// A program leaves WorkerCommand nil: its workers are the program
		// itself, started again as `worker`. Tests start the test binary.
		WorkerCommand: testWorkerCommand(dir, ""),
		Log:           slog.New(slog.DiscardHandler), Output: io.Discard,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	cl, err := cluster.Dial(ctx, cluster.DialConfig{Dir: dir}) // what `--cluster DIR` does
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	pong, err := cl.Spawn(ctx, cluster.SpawnRequest{Kind: "ponger", Count: 1, Worker: 1,
		Args: map[string]string{"ina": "@chan", "inb": "@chan", "outa": "@chan", "outb": "@chan"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ch := pong.Tasklets[0].Channels
	ping, err := cl.Spawn(ctx, cluster.SpawnRequest{Kind: "pinger", Count: 1, Worker: 2,
		Args: map[string]string{"out": ch["ina"].String(), "in": ch["outa"].String(), "n": "10"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := cl.Await(ctx, ping.Tasklets[0].ID) // until the pinger parks with its result
	if err != nil {
		fmt.Println(err)
		return
	}
	var p struct{ Sum int }
	_ = json.Unmarshal(v.Fields, &p)
	fmt.Printf("the pinger on worker %d sent 1..10 to worker 1 and got back %d\n", v.Worker, p.Sum)
	// Output: the pinger on worker 2 sent 1..10 to worker 1 and got back 110
}

// Idle does nothing; it shows what a spawner returns.
type Idle struct{ Name string }

func (i *Idle) Step(t *tasklet.T) tasklet.Op { return t.Pause() }

func ExampleRegisterSpawner() {
	// At init, next to pickle.MustRegister("example.idle", 1, &Idle{}).
	cluster.MustRegisterSpawner("example.idle", func(args map[string]string) (tasklet.Behavior, error) {
		return &Idle{Name: cluster.ArgString(args, "name", "nobody")}, nil
	})
	fmt.Println(slices.Contains(cluster.Spawners(), "example.idle"))
	// Output: true
}
