package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackless-go/stackless/examples/gameai/game"
	"github.com/stackless-go/stackless/internal/memlimit"
	"github.com/stackless-go/stackless/internal/shquote"
	"github.com/stackless-go/stackless/store"
)

type gameAIResult struct {
	Demo   string       `json:"demo"`
	Result *game.Result `json:"result"`
	Lines  []string     `json:"lines"` // what the table output prints
}

func newDemoGameAICmd() *cobra.Command {
	var (
		o  game.Options
		hf httpFlags
	)
	cmd := &cobra.Command{
		Use:   "gameai",
		Short: "Guards and monsters, one tasklet each, with autosave and load",
		Long: `A 2D world of guards and monsters, one tasklet per entity. Guards patrol
around their towns, chase and fight the monsters they see; monsters roam,
strike back, flee when hurt and are replaced when killed. A world tasklet
tells entities what they see and when they arrive; entities hit each other
over channels. The game loop ticks the scheduler on a virtual clock, so a
seed replays the same game.

It prints a line of statistics every --stats-every ticks, autosaves into
DIR/` + game.SaveName + ` every --save-every ticks and at the end, and draws the
world into a PNG (DIR/world.png by default). --load goes on from the save
exactly as if the game had never stopped.

With --http the game plays in real time (one tick per --dt) and the web
observer draws it live: the world on a canvas in the PNG's colours, the
state of the entity you click, pause, step one tick, save and load (into
DIR/` + game.SaveName + `), beside the tasklets and channels pages. It pauses
after --ticks ticks and serves until interrupted; Ctrl-C saves first.`,
		Example: "  stackless demo gameai\n" +
			"  stackless demo gameai --load --ticks 500\n" +
			"  stackless demo gameai --entities 100000 --ticks 200 --render-every 50\n" +
			"  stackless demo gameai --http 127.0.0.1:8080 --entities 2000",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Load {
				for _, name := range []string{"entities", "seed", "dt"} {
					if cmd.Flags().Changed(name) {
						fmt.Fprintf(cmd.ErrOrStderr(), "note: --%s is ignored with --load: the saved game has its own\n", name)
					}
				}
			}
			if err := checkGameMemory(o); err != nil {
				return err
			}
			if hf.addr != "" {
				return webGameAI(cmd, o, &hf)
			}
			asJSON := outputOf(cmd) == formatJSON
			var lines bytes.Buffer
			o.Out = cmd.OutOrStdout()
			if asJSON {
				o.Out = &lines
			}
			if isTerminal(cmd.ErrOrStderr()) {
				o.Progress = cmd.ErrOrStderr()
			}
			res, err := game.Run(cmd.Context(), o)
			switch {
			case errors.Is(err, game.ErrUsage):
				return usageError{err}
			case errors.Is(err, context.Canceled) && asJSON:
				fmt.Fprint(cmd.ErrOrStderr(), lines.String()) // where it was saved
				return err
			case err != nil:
				return err
			case !asJSON:
				return nil
			}
			return writeJSON(cmd.OutOrStdout(), gameAIResult{Demo: "gameai", Result: res,
				Lines: strings.Split(strings.TrimSuffix(lines.String(), "\n"), "\n")})
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Entities, "entities", game.DefaultEntities, "number of entities, half guards and half monsters")
	f.IntVar(&o.Ticks, "ticks", 1000, "ticks to play in this session")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of all randomness: the same seed plays the same game")
	f.DurationVar(&o.Dt, "dt", game.DefaultDt, "game time per tick")
	f.IntVar(&o.SaveEvery, "save-every", 100, "autosave every this many ticks and at the end (0: never)")
	f.StringVar(&o.DataDir, "data", "data", "directory `DIR` of the save file "+game.SaveName+" and the pictures")
	f.BoolVar(&o.Load, "load", false, "resume the saved game in the data directory")
	f.StringVar(&o.Render, "render", "", "PNG picture `FILE` of the world at the end (default DIR/world.png)")
	f.IntVar(&o.RenderEvery, "render-every", 0, "also a picture every this many ticks, named like FILE-t000200.png")
	f.IntVar(&o.Size, "size", 512, "picture width and height in pixels")
	f.IntVar(&o.StatsEvery, "stats-every", 100, "a line of statistics every this many ticks (0: only at the end)")
	for name, min := range map[string]string{"entities": "2", "ticks": "1", "seed": "1", "dt": "1ns",
		"save-every": "0", "render-every": "0", "size": "16", "stats-every": "0"} {
		atLeast(f, name, min)
	}
	hf.add(f, "")
	_ = cmd.MarkFlagDirname("data")
	_ = cmd.MarkFlagFilename("render", "png")
	cmd.RunE = withWritableHint(cmd.RunE,
		writePlace{"--data DIR", func() string { return o.DataDir }},
		// The pictures of --render-every go beside FILE.
		writePlace{"--render FILE", func() string {
			if o.Render == "" {
				return ""
			}
			return filepath.Dir(o.Render)
		}})
	return cmd
}

// checkGameMemory refuses a game that cannot fit under this process's
// memory limit (ulimit -v, a cgroup's): `--entities 2000000` under
// `ulimit -v 3000000` died inside the Go runtime ("fatal error: out of
// memory", a page of goroutine stacks) after a while of setting up, and
// so did --load of a save that large. A loaded game's entities are
// counted from its save's generation headers; values the game refuses
// anyway, and a save it cannot read, are left to it.
func checkGameMemory(o game.Options) error {
	lim, ok := memlimit.Tightest()
	if !ok {
		return nil
	}
	if o.Load {
		path := filepath.Join(o.DataDir, game.SaveName)
		n, ok := savedEntities(path)
		st, err := os.Stat(path)
		if !ok || err != nil {
			return nil
		}
		o.Entities = n
		if need := o.LoadNeed(uint64(st.Size())); need > lim.Left() {
			return fmt.Errorf("the saved game in %s, of about %d entities, needs about %s of memory to load (%d bytes per entity and its %s file, measured), more than the %s left under %s: free memory or run it elsewhere, or raise the limit",
				shquote.Quote(o.DataDir), n, memlimit.Bytes(need), game.LoadBytesPerEntity, memlimit.Bytes(uint64(st.Size())), memlimit.Bytes(lim.Left()), lim)
		}
	} else if o.Config.Check() != nil {
		return nil
	}
	need := o.MemoryNeed()
	if need <= lim.Left() {
		return nil
	}
	per, how := uint64(game.PlayBytesPerEntity), "playing"
	if o.SaveEvery > 0 {
		per, how = game.SavingBytesPerEntity, "playing and saving"
	}
	picture := need - uint64(o.Entities)*per
	fit := uint64(0)
	if lim.Left() > picture {
		fit = (lim.Left() - picture) / per
	}
	hint := fmt.Sprintf("pass --entities %d or fewer", fit)
	if fit < 2 || o.Load {
		hint = "free memory or run it elsewhere"
	}
	if o.SaveEvery > 0 && fit < uint64(o.Entities) {
		hint += fmt.Sprintf(", --save-every 0 (%d bytes per entity)", game.PlayBytesPerEntity)
	}
	what := fmt.Sprintf("--entities %d", o.Entities)
	if o.Load {
		what = fmt.Sprintf("the saved game in %s, of about %d entities,", shquote.Quote(o.DataDir), o.Entities)
	}
	return fmt.Errorf("%s needs about %s of memory (%d bytes per entity %s, measured), more than the %s left under %s: %s, or raise the limit",
		what, memlimit.Bytes(need), per, how, memlimit.Bytes(lim.Left()), lim, hint)
}

// savedEntities is game.SavedEntitiesIn for the save at path, opened
// read-only; false when it cannot be read, which the game reports.
func savedEntities(path string) (int, bool) {
	// A short wait: a save another process holds is the game's to report.
	db, err := store.Open(path, store.WithReadOnly(), store.WithTimeout(20*time.Millisecond))
	if err != nil {
		return 0, false
	}
	defer db.Close()
	return game.SavedEntitiesIn(db)
}
