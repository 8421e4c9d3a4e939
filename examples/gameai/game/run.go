package game

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// Options is one session of play: a new game, or the newest save loaded,
// played for Ticks ticks. examples/gameai and `stackless demo gameai` are
// flags around it.
type Options struct {
	Config             // a new game (ignored when loading: the save says)
	Ticks       int    // ticks to play in this session (default 1,000)
	DataDir     string // the save file and the pictures go here (default "data")
	SaveEvery   int    // autosave every this many ticks, and at the end (0: no saving)
	Load        bool   // resume the newest save in DataDir
	Render      string // the picture written at the end (default DataDir/world.png)
	RenderEvery int    // also a picture every this many ticks, beside Render (0: none)
	Size        int    // picture width and height in pixels (default 512)
	StatsEvery  int    // a statistics line every this many ticks (0: only at the end)

	Out      io.Writer // statistics and messages (nil: discarded)
	Progress io.Writer // a progress line rewritten in place (nil: none); pass stderr only when it is a terminal
}

// SaveName is the save file's name in DataDir.
const SaveName = "gameai.db"

// ErrUsage marks an error in the Options (a flag's value): the caller's
// mistake, not the game's.
var ErrUsage = errors.New("bad options")

// Result is what a session did.
type Result struct {
	Loaded     bool          `json:"loaded"`
	FromTick   int64         `json:"from_tick"`
	Stats      Stats         `json:"stats"`      // after the last tick
	Elapsed    time.Duration `json:"elapsed_ns"` // wall time of the session's ticks, saves and pictures
	TickTime   time.Duration `json:"tick_ns"`    // wall time inside Tick
	SaveFile   string        `json:"save_file,omitempty"`
	Generation uint64        `json:"generation,omitempty"` // the newest save written
	Pictures   []string      `json:"pictures"`
}

func (o Options) withDefaults() Options {
	o.Config = o.Config.withDefaults()
	if o.Ticks == 0 {
		o.Ticks = 1000
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.Render == "" {
		o.Render = filepath.Join(o.DataDir, "world.png")
	}
	if o.Size == 0 {
		o.Size = 512
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

func (o Options) check() error {
	errs := []error{o.Config.Check()}
	for _, f := range []struct {
		name string
		v    int
	}{{"ticks", o.Ticks}, {"save-every", o.SaveEvery}, {"render-every", o.RenderEvery}, {"stats-every", o.StatsEvery}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("--%s must be 0 or more, got %d", f.name, f.v))
		}
	}
	if o.SaveEvery > 0 && o.Entities > MaxSavedEntities {
		errs = append(errs, fmt.Errorf("--entities %d: a game of more than %d entities cannot be saved: pass fewer, or --save-every 0 to play without saving", o.Entities, MaxSavedEntities))
	}
	if o.Size < 16 || o.Size > 8192 {
		errs = append(errs, fmt.Errorf("--size must be 16 to 8192 pixels, got %d", o.Size))
	}
	return errors.Join(errs...)
}

// Run plays one session: it sets up a new game (replacing the save in
// DataDir) or loads the newest save, plays Ticks ticks printing statistics,
// saves every SaveEvery ticks and at the end, and writes the picture. When
// ctx ends it stops after the current tick, saves, draws, and returns
// ctx.Err().
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("gameai: %w: %w", ErrUsage, err)
	}
	if !o.Load { // loading needs a save, so no folder is made for it
		if err := atomicfile.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("gameai: data directory %s: %w", o.DataDir, err)
		}
	}
	ses := &session{o: o, res: &Result{Loaded: o.Load}}
	defer ses.close()
	if err := ses.open(); err != nil {
		return nil, err
	}
	err := ses.play(ctx)
	// A game that failed is not saved over the last good save; an
	// interrupted one is.
	if ferr := ses.finish(err == nil || ctx.Err() != nil); err == nil {
		err = ferr
	}
	return ses.res, err
}

// session is the state of one Run.
type session struct {
	o    Options
	res  *Result
	game *Game
	db   *store.DB
	ck   *store.Checkpointer

	saved    int64     // the tick of the last save
	replaced int       // generations of an earlier game a new game deleted
	bar      *progress // the progress bar, when Options.Progress is set
}

// say prints a message line, first wiping the progress bar when it shares
// the terminal.
func (s *session) say(format string, a ...any) {
	if s.bar != nil {
		s.bar.clear()
	}
	fmt.Fprintf(s.o.Out, format, a...)
}

func (s *session) open() error {
	reg, err := NewRegistry()
	if err != nil {
		return err
	}
	path := filepath.Join(s.o.DataDir, SaveName)
	clock := scheduler.NewVirtualClock(0)
	if !s.o.Load {
		play := s.o
		play.SaveEvery = 0 // the world in the heap; a save's file is mapped, not allocated
		reserveHeap(play.MemoryNeed())
	}
	if !s.o.Load && s.o.SaveEvery == 0 {
		s.game, err = New(s.o.Config)
		if err == nil {
			s.intro("")
		}
		return err
	}
	if s.o.Load {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("gameai: no saved game to load in %s (%w); play once with autosave on first", s.o.DataDir, err)
		}
	}
	if s.db, err = store.Open(path, store.WithMaxRecord(MaxRecord)); err != nil { // fails if another process plays on this file
		return fmt.Errorf("gameai: %w", err)
	}
	s.res.SaveFile = path
	if s.o.Load {
		if n, ok := SavedEntitiesIn(s.db); ok {
			reserveHeap(uint64(n) * LoadBytesPerEntity)
		}
	}
	if !s.o.Load {
		// Said in the intro: a new game deleted the saved one without a word.
		if gens, err := s.db.List(); err == nil {
			s.replaced = len(gens)
		}
		if err := clearSaves(s.db); err != nil {
			return fmt.Errorf("gameai: a new game replaces the save %s: %w", path, err)
		}
	}
	// Saves are encoded between ticks and written by a background goroutine
	// while the next ticks run.
	s.ck = store.NewCheckpointer(s.db, reg, store.WithAsync())
	// The errors of the setup below already say "gameai:"; only the
	// store's get it here.
	var setupErr error
	sched, err := s.ck.Resume(func(sched *scheduler.Scheduler) error {
		if s.o.Load {
			setupErr = fmt.Errorf("gameai: %s holds no saved game; play once with autosave on first", path)
		} else {
			setupErr = Setup(sched, s.o.Config)
		}
		return setupErr
	}, scheduler.WithClock(clock))
	if setupErr != nil {
		return setupErr
	}
	if errors.Is(err, pickle.ErrUnregistered) || errors.Is(err, pickle.ErrUnknownKind) {
		return fmt.Errorf("gameai: %s is not a gameai save (another program wrote it): %w; give another --data folder", path, err)
	}
	if err != nil {
		return fmt.Errorf("gameai: %w", err)
	}
	if s.game, err = Attach(sched, clock); err != nil {
		return fmt.Errorf("gameai: %s: %w", path, err)
	}
	s.saved = s.game.Now()
	s.intro(path)
	return nil
}

// intro prints what is about to be played.
func (s *session) intro(path string) {
	w, o := s.game.World(), s.o
	s.res.FromTick = s.game.Now()
	n := len(w.Kinds)
	km := float64(w.Side) / 100_000
	if o.Load {
		for _, err := range s.ck.Damaged() {
			s.say("passed over a damaged save: %v\n", err)
		}
		s.say("loaded %s (generation %d): tick %d, %d entities on %.1f km x %.1f km; playing %d more ticks\n",
			path, s.ck.Resumed(), s.res.FromTick, n, km, km, o.Ticks)
		return
	}
	save := "no autosave"
	if path != "" {
		save = fmt.Sprintf("autosave every %d ticks to %s", o.SaveEvery, path)
		if s.replaced > 0 {
			save += fmt.Sprintf(" (it replaces the saved game there, %d generations; --load goes on from a save instead)", s.replaced)
		}
	}
	g := w.Counts[GuardKind]
	guards := g[Patrol] + g[Chase] + g[Fight] + g[Flee]
	s.say("new game: %d entities (%d guards, %d monsters) on %.1f km x %.1f km, seed %d, %v per tick; %s\n",
		n, guards, int32(n)-guards, km, km, o.Seed, w.Dt, save)
}

func (s *session) play(ctx context.Context) error {
	o := s.o
	start := time.Now()
	last := struct {
		at    time.Time
		ticks int
		spent time.Duration
	}{at: start}
	if o.Progress != nil {
		s.bar = newProgress(o.Progress, o.Ticks)
		defer s.bar.finish()
	}
	defer func() { s.res.Elapsed = time.Since(start) }()
	for i := range o.Ticks {
		if err := ctx.Err(); err != nil {
			s.say("interrupted at tick %d\n", s.game.Now())
			return err
		}
		t0 := time.Now()
		if err := s.game.Tick(); err != nil {
			return err
		}
		spent := time.Since(t0)
		s.res.TickTime += spent
		last.ticks++
		last.spent += spent
		tick := s.game.Now()
		if o.SaveEvery > 0 && tick%int64(o.SaveEvery) == 0 {
			if err := s.save(); err != nil {
				return err
			}
		}
		if o.RenderEvery > 0 && tick%int64(o.RenderEvery) == 0 {
			if err := s.picture(frameName(o.Render, tick)); err != nil {
				return err
			}
		}
		if o.StatsEvery > 0 && tick%int64(o.StatsEvery) == 0 {
			s.statsLine(time.Since(last.at), last.ticks, last.spent)
			last.at, last.ticks, last.spent = time.Now(), 0, 0
		}
		if s.bar != nil {
			s.bar.update(i+1, o.Ticks)
		}
	}
	s.statsLine(time.Since(last.at), last.ticks, last.spent) // the ticks since the last line
	return nil
}

func (s *session) statsLine(wall time.Duration, ticks int, spent time.Duration) {
	if ticks == 0 {
		return
	}
	s.say("%s\n", s.game.Stats().Line(float64(ticks)/wall.Seconds(), spent/time.Duration(ticks)))
}

func (s *session) save() error {
	if err := s.ck.Checkpoint(s.game.Sched); err != nil {
		return fmt.Errorf("gameai: autosave at tick %d: %w", s.game.Now(), err)
	}
	s.saved = s.game.Now()
	return nil
}

func (s *session) picture(path string) error {
	if err := s.game.WritePNG(path, s.o.Size); err != nil {
		return err
	}
	s.res.Pictures = append(s.res.Pictures, path)
	return nil
}

// finish saves the last tick (if save), waits for the saves to reach the
// disk and draws the final picture.
func (s *session) finish(save bool) error {
	var errs []error
	if s.ck != nil {
		// --save-every 0 never saves, also a loaded game: it saved at
		// the end regardless, adding a generation the user had not asked
		// for (and the memory check had not counted).
		if save && s.o.SaveEvery > 0 && s.saved != s.game.Now() {
			errs = append(errs, s.save())
		}
		switch err := s.ck.Flush(); {
		case err != nil:
			errs = append(errs, fmt.Errorf("gameai: saving to %s: %w", s.res.SaveFile, err))
		case s.o.SaveEvery == 0:
			s.res.Generation = s.ck.Last()
			s.say("not saved (--save-every 0): %s stays at tick %d (generation %d)\n", s.res.SaveFile, s.saved, s.res.Generation)
		default:
			s.res.Generation = s.ck.Last()
			s.say("saved tick %d to %s (generation %d)\n", s.saved, s.res.SaveFile, s.res.Generation)
		}
	}
	if err := s.picture(s.o.Render); err != nil {
		errs = append(errs, err)
	} else {
		s.say("picture of tick %d: %s (%dx%d)\n", s.game.Now(), s.o.Render, s.o.Size, s.o.Size)
	}
	s.res.Stats = s.game.Stats()
	if n := s.game.Now() - s.res.FromTick; n > 0 {
		s.say("played %d ticks in %v: %.0f ticks/s, %d µs per tick on average\n",
			n, s.res.Elapsed.Round(time.Millisecond), float64(n)/s.res.Elapsed.Seconds(), (s.res.TickTime / time.Duration(n)).Microseconds())
	}
	return errors.Join(errs...)
}

// clearSaves deletes every generation of db, newest first so that no
// incremental generation loses its base before it goes.
func clearSaves(db *store.DB) error {
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

func (s *session) close() {
	if s.ck != nil {
		s.ck.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

// frameName is the picture of one tick beside the final one:
// data/world.png -> data/world-t000200.png.
func frameName(final string, tick int64) string {
	ext := filepath.Ext(final)
	return fmt.Sprintf("%s-t%06d%s", strings.TrimSuffix(final, ext), tick, ext)
}
