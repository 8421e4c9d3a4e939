// Command pingpong plays ping-pong between two straight-line tasklets (see
// package game): they bounce a ball over two unbuffered channels n times,
// and every hit is printed.
//
//	go run ./examples/pingpong -n 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stackless-go/stackless/examples/pingpong/game"
	"github.com/stackless-go/stackless/scheduler"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run plays the game and returns the exit code: 0, 1 for a failed game, 2
// for bad arguments.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pingpong", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 10, "number of rallies (>= 0)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pingpong [-n rallies]  (rallies >= 0)")
		return 2
	}
	s := scheduler.New()
	table := game.Setup(s, *n)
	if _, err := game.Play(context.Background(), s, table, stdout); err != nil {
		fmt.Fprintln(stderr, err) // names pingpong already
		return 1
	}
	return 0
}
