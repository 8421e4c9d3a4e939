package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spf13/cobra"
	"image/png"
	"math"
	"path/filepath"
	"time"

	"github.com/stackless-go/stackless/examples/gameai/game"
	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/observe"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// webGame is `demo gameai --http`: the game played in real time (one tick
// per tick of game time) by a loop that owns it, drawn and driven from the
// observer's game page. Every read and command runs on the loop between
// two ticks, so the game needs no lock. It is its own loop rather than
// game.Run because a page can pause, step and load, which a batch session
// has no place for.
type webGame struct {
	o    game.Options
	path string
	g    *game.Game
	db   *store.DB
	ck   *store.Checkpointer
	cmds chan func()

	paused bool
	left   int // ticks still to play before pausing by itself
	saved  uint64
	tps    float64
}

// webGameAI plays o on the web observer until interrupted.
func webGameAI(cmd *cobra.Command, o game.Options, hf *httpFlags) error {
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	w, err := newWebGame(o)
	if err != nil {
		if errors.Is(err, game.ErrUsage) {
			return usageError{err}
		}
		return err
	}
	for _, err := range w.ck.Damaged() {
		fmt.Fprintf(cmd.ErrOrStderr(), "gameai: passed over a damaged save: %v\n", err)
	}
	src := observe.NewSchedulerSource("demo gameai", w.g.Sched, w.exec)
	src.SetCheckpoints(storeTimeline(w.db))
	srv, err := hf.start(cmd, observe.Config{Source: src, Game: w})
	if err != nil {
		return errors.Join(err, w.close())
	}
	defer srv.Close()
	fmt.Fprintf(cmd.ErrOrStderr(), "gameai: %d entities at tick %d, saving to %s; the game page is /game\n",
		len(w.g.World().Kinds), w.g.Now(), w.path)
	err = w.play(cmd.Context())
	if err == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "gameai: saved to %s (generation %d)\n", w.path, w.saved)
		err = cmd.Context().Err()
	}
	return err
}

// legendMeans names the colours of game.Render's palette, in its order.
var legendMeans = []string{"ground", "guard: patrol", "guard: chase", "fighting (guard or monster)", "guard: flee",
	"monster: wander", "monster: fight", "monster: flee", "monster: dead"}

func newWebGame(o game.Options) (*webGame, error) {
	if err := atomicfile.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("gameai: data directory %s: %w", o.DataDir, err)
	}
	w := &webGame{o: o, path: filepath.Join(o.DataDir, game.SaveName), cmds: make(chan func()), left: o.Ticks}
	db, err := store.Open(w.path)
	if err != nil {
		return nil, fmt.Errorf("gameai: %w", err)
	}
	w.db = db
	if !o.Load {
		if err := clearGenerations(db); err != nil {
			db.Close()
			return nil, fmt.Errorf("gameai: a new game replaces the save %s: %w", w.path, err)
		}
	}
	if err := w.resume(); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// resume attaches the newest save, or sets up a new game (saved at once).
func (w *webGame) resume() error {
	reg, err := game.NewRegistry()
	if err != nil {
		return err
	}
	if w.ck != nil {
		if err := w.ck.Close(); err != nil {
			return fmt.Errorf("gameai: saving to %s: %w", w.path, err)
		}
	}
	w.ck = store.NewCheckpointer(w.db, reg)
	clock := scheduler.NewVirtualClock(0)
	// The errors of the setup below already say "gameai:"; only the
	// store's get it here.
	var setupErr error
	s, err := w.ck.Resume(func(s *scheduler.Scheduler) error {
		if w.o.Load {
			setupErr = fmt.Errorf("gameai: %s holds no saved game; play once without --load first", w.path)
		} else {
			setupErr = game.Setup(s, w.o.Config)
		}
		return setupErr
	}, scheduler.WithClock(clock))
	if setupErr != nil {
		return setupErr
	}
	if err != nil {
		return fmt.Errorf("gameai: %w", err)
	}
	g, err := game.Attach(s, clock)
	if err != nil {
		return fmt.Errorf("gameai: %s: %w", w.path, err)
	}
	w.g, w.saved = g, w.ck.Last()
	return nil
}

func clearGenerations(db *store.DB) error {
	gens, err := db.List()
	if err != nil {
		return err
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if err := db.Delete(gens[i].Gen); err != nil {
			return err
		}
	}
	return nil
}

// play runs the loop until ctx ends, then saves and closes.
func (w *webGame) play(ctx context.Context) error {
	tk := time.NewTicker(w.g.World().Dt)
	defer tk.Stop()
	last, ticks := time.Now(), 0
	for {
		var tick <-chan time.Time
		if !w.paused && w.left > 0 {
			tick = tk.C
		}
		select {
		case <-ctx.Done():
			return errors.Join(w.save(), w.close())
		case fn := <-w.cmds:
			fn()
		case <-tick:
			if err := w.g.Tick(); err != nil {
				return errors.Join(err, w.close())
			}
			w.left--
			if ticks++; time.Since(last) > time.Second {
				w.tps, last, ticks = float64(ticks)/time.Since(last).Seconds(), time.Now(), 0
			}
			if w.o.SaveEvery > 0 && w.g.Now()%int64(w.o.SaveEvery) == 0 {
				if err := w.save(); err != nil {
					return errors.Join(err, w.close())
				}
			}
		}
	}
}

func (w *webGame) save() error {
	if err := w.ck.Checkpoint(w.g.Sched); err != nil {
		return fmt.Errorf("gameai: save at tick %d: %w", w.g.Now(), err)
	}
	w.saved = w.ck.Last()
	return nil
}

func (w *webGame) close() error {
	return errors.Join(w.ck.Close(), w.db.Close())
}

// on runs fn on the loop between two ticks.
func (w *webGame) on(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case w.cmds <- func() { fn(); close(done) }:
	case <-ctx.Done():
		return fmt.Errorf("gameai: the game loop did not answer (%w): %w", observe.ErrNotRunning, ctx.Err())
	}
	<-done
	return nil
}

// exec is the observer's way onto the game's scheduler (whichever a load
// made current).
func (w *webGame) exec(ctx context.Context, fn func(*scheduler.Scheduler)) error {
	return w.on(ctx, func() { fn(w.g.Sched) })
}

// State implements observe.Game.
func (w *webGame) State(ctx context.Context) (observe.GameState, error) {
	var st observe.GameState
	err := w.on(ctx, func() {
		st = observe.GameState{Tick: w.g.Now(), Paused: w.paused || w.left <= 0, Entities: len(w.g.World().Kinds),
			Stats: w.g.Stats().Line(w.tps, 0), SaveFile: w.path, Saved: w.saved}
		for i, c := range w.g.Render(16).Palette {
			r, g, b, _ := c.RGBA()
			means := fmt.Sprintf("colour %d", i)
			if i < len(legendMeans) {
				means = legendMeans[i]
			}
			st.Legend = append(st.Legend, observe.Legend{Colour: fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8), Means: means})
		}
	})
	return st, err
}

// Frame implements observe.Game: the PNG the demo writes, drawn now.
func (w *webGame) Frame(ctx context.Context, size int) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if e := w.on(ctx, func() { err = png.Encode(&buf, w.g.Render(size)) }); e != nil {
		return nil, e
	}
	return buf.Bytes(), err
}

// Entity implements observe.Game: the entity nearest to the click, its
// tasklet (the one receiving on its inbox) and that tasklet's fields.
func (w *webGame) Entity(ctx context.Context, x, y float64) (*observe.Entity, error) {
	var e *observe.Entity
	var ferr error
	err := w.on(ctx, func() {
		wd := w.g.World()
		side := float64(wd.Side + 1)
		now := w.g.Clock.Now()
		best, bestD := -1, math.Inf(1)
		for slot := range wd.Kinds {
			p := wd.Legs[slot].At(now)
			dx, dy := float64(p.X)/side-x, float64(p.Y)/side-y
			if d := dx*dx + dy*dy; d < bestD {
				best, bestD = slot, d
			}
		}
		if best < 0 {
			ferr = errors.New("gameai: the world has no entities")
			return
		}
		p := wd.Legs[best].At(now)
		e = &observe.Entity{Slot: best, Kind: wd.Kinds[best].String(), State: wd.States[best].String(),
			X: float64(p.X) / side, Y: float64(p.Y) / side}
		inbox := wd.Inboxes[best]
		for _, in := range w.g.Sched.Tasklets() {
			for _, c := range in.Chans {
				if c == inbox {
					e.Tasklet = in.ID.String()
					e.Fields, ferr = json.Marshal(w.g.Sched.Behavior(in.ID))
					return
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return e, ferr
}

// Control implements observe.Game.
func (w *webGame) Control(ctx context.Context, cmd string) (string, error) {
	var msg string
	var cerr error
	err := w.on(ctx, func() {
		switch cmd {
		case "pause":
			w.paused = true
			msg = fmt.Sprintf("paused at tick %d", w.g.Now())
		case "resume":
			w.paused = false
			if w.left <= 0 {
				w.left = w.o.Ticks
			}
			msg = fmt.Sprintf("playing on from tick %d", w.g.Now())
		case "step":
			w.paused = true
			if cerr = w.g.Tick(); cerr == nil {
				msg = fmt.Sprintf("stepped to tick %d", w.g.Now())
			}
		case "save":
			if cerr = w.save(); cerr == nil {
				cerr = w.ck.Flush()
				msg = fmt.Sprintf("saved tick %d to %s (generation %d)", w.g.Now(), w.path, w.saved)
			}
		case "load":
			if cerr = w.ck.Flush(); cerr != nil {
				return
			}
			o := w.o
			w.o.Load = true
			cerr = w.resume()
			w.o = o
			if cerr == nil {
				msg = fmt.Sprintf("loaded generation %d of %s: tick %d", w.saved, w.path, w.g.Now())
			}
		default:
			cerr = fmt.Errorf("gameai: %q: %w; the controls are %v", cmd, observe.ErrUnsupported, observe.GameControls)
		}
	})
	if err != nil {
		return "", err
	}
	return msg, cerr
}

var _ observe.Game = (*webGame)(nil)
