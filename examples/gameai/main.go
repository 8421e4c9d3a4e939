// Command gameai runs a 2D world of guards and monsters, one tasklet per
// entity: guards patrol, chase and fight the monsters they see, monsters
// wander and strike back, the wounded flee, the dead are replaced. It prints
// statistics as it goes, autosaves into a bbolt file, resumes a save with
// --load, and draws the world as a PNG.
//
//	go run ./examples/gameai                      # 10,000 entities, 1,000 ticks
//	go run ./examples/gameai --load --ticks 500   # go on from the save
//
// The game itself is package game; this is its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/stackless-go/stackless/examples/gameai/game"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run plays and returns the exit code: 0, 1 when the game failed, 2 for
// bad arguments, 130 when interrupted (after saving).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gameai", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o game.Options
	fs.IntVar(&o.Entities, "entities", game.DefaultEntities, "number of entities, half guards and half monsters")
	fs.IntVar(&o.Ticks, "ticks", 1000, "ticks to play in this session")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of all randomness: the same seed plays the same game")
	fs.DurationVar(&o.Dt, "dt", game.DefaultDt, "game time per tick")
	fs.IntVar(&o.SaveEvery, "save-every", 100, "autosave every this many ticks and at the end (0: never)")
	fs.StringVar(&o.DataDir, "data", "data", "directory of the save file "+game.SaveName+" and the pictures")
	fs.BoolVar(&o.Load, "load", false, "resume the saved game in the data directory instead of starting a new one")
	fs.StringVar(&o.Render, "render", "", "PNG picture of the world at the end (default DIR/world.png)")
	fs.IntVar(&o.RenderEvery, "render-every", 0, "also a picture every this many ticks, named like FILE-t000200.png")
	fs.IntVar(&o.Size, "size", 512, "picture width and height in pixels")
	fs.IntVar(&o.StatsEvery, "stats-every", 100, "a line of statistics every this many ticks (0: only at the end)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gameai: unexpected argument %q; see gameai -h\n", fs.Arg(0))
		return 2
	}
	if o.Load {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "entities" || f.Name == "seed" || f.Name == "dt" {
				fmt.Fprintf(stderr, "gameai: note: --%s is ignored with --load: the saved game has its own\n", f.Name)
			}
		})
	}
	o.Out = stdout
	if isTerminal(stderr) {
		o.Progress = stderr
	}
	_, err := game.Run(ctx, o)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "gameai: interrupted")
		return 130
	case errors.Is(err, game.ErrUsage):
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// isTerminal reports whether w is a terminal, where progress is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
