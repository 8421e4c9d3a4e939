package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stackless-go/stackless/internal/atomicfile"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// Defaults of Options.
const (
	DefaultDocs    = 50_000 // each one an HTTP fetch, journaled
	DefaultWorkers = 16     // fetches in flight at once
	// MaxWorkers bounds Workers: each worker is a tasklet and two slots of
	// the tallies channel, so --workers 100000000 asked for gigabytes and
	// was killed by the kernel instead of being refused.
	MaxWorkers   = 100_000
	DefaultSeed  = 1
	DefaultDir   = "data"
	DefaultEvery = time.Second

	// DBName is the checkpoint database's file name inside Options.Dir.
	DBName = "longtask.db"

	// lockWait is how long Run waits for a database another process holds.
	lockWait = 2 * time.Second
	// slice is how many steps run between two progress updates (about 5 ms
	// of work). It must be well over 256: the scheduler looks at the wall
	// clock for interval checkpoints only every 256 steps of a run.
	slice = 512
)

// Options configure Run. Zero values mean: the stored run's value when
// resuming, else the default.
type Options struct {
	Docs    int           // documents in the corpus (DefaultDocs)
	Workers int           // counting tasklets (DefaultWorkers)
	Seed    uint64        // corpus seed (DefaultSeed)
	Dir     string        // data directory holding DBName (DefaultDir)
	Every   time.Duration // checkpoint interval (DefaultEvery)
	Fresh   bool          // delete the stored run and start over
	// CheckpointSteps also checkpoints every so many scheduler steps (0:
	// off), which makes the checkpoint moments independent of the
	// machine's speed, as tests want.
	CheckpointSteps uint64
	// Server is the document server's base URL (http://HOST:PORT); empty:
	// Run starts one of its own (StartDocServer) for the run.
	Server string
	// NoJournal turns the effect journal off: after a crash, the fetches
	// made since the last checkpoint are made again.
	NoJournal bool

	Progress io.Writer // progress bar; pass stderr only when it is a terminal (nil: none)
	Log      io.Writer // notes for people: resumed from, already complete (nil: none)
	Events   io.Writer // lines for programs: "resume gen=G docs=D", "checkpoint gen=G docs=D" (nil: none)

	// OnStart, if set, is called once the pipeline is about to run, with
	// its scheduler (read it only through Scheduler.Do) and the checkpoint
	// database (safe to List from another goroutine): the hook of
	// `demo longtask --http`. It is not called for a finished run.
	OnStart func(s *scheduler.Scheduler, db *store.DB)
}

// Report is what Run did.
type Report struct {
	Result      Result
	DB          string             // checkpoint database path
	Resumed     uint64             // generation the run resumed from; 0 for a fresh start
	ResumedDocs int                // documents already merged at that generation
	Damaged     []string           // newer generations passed over as damaged, newest first (store.Checkpointer.Damaged)
	AlreadyDone bool               // the database held a finished run: nothing ran
	Gen         uint64             // generation holding the finished run
	Elapsed     time.Duration      // wall time of this process's share of the run
	Journal     store.JournalStats // the effect journal's work in this process (zero with NoJournal)
}

func (o Options) check() error {
	switch {
	case o.Docs < 0:
		return fmt.Errorf("longtask: docs is %d: want 1 or more", o.Docs)
	case o.Workers < 0 || o.Workers > MaxWorkers:
		return fmt.Errorf("longtask: workers is %d: want 1 to %d", o.Workers, MaxWorkers)
	case o.Every < 0:
		return fmt.Errorf("longtask: checkpoint interval is %v: want more than 0", o.Every)
	}
	return nil
}

// config is the configuration of a fresh run: the options with defaults.
func (o Options) config() Config {
	c := Config{Docs: o.Docs, Workers: o.Workers, Seed: o.Seed}
	if c.Docs == 0 {
		c.Docs = DefaultDocs
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	return c
}

// agrees reports whether the options ask for the stored configuration c.
func (o Options) agrees(c Config) bool {
	return (o.Docs == 0 || o.Docs == c.Docs) && (o.Workers == 0 || o.Workers == c.Workers) &&
		(o.Seed == 0 || o.Seed == c.Seed)
}

// Run computes word statistics over the generated corpus as a pipeline of
// tasklets, checkpointing into Dir/longtask.db every Every. It resumes the
// run stored there, if any; after a kill it goes on from the last
// checkpoint and ends with the same Result as an unbroken run. When ctx
// ends it checkpoints and returns an error wrapping ctx.Err().
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Every == 0 {
		o.Every = DefaultEvery
	}
	path := filepath.Join(o.Dir, DBName)
	db, err := openStore(path, o.Fresh, o.Log)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	reg := Registry()
	base := o.Server
	if base == "" {
		srv, err := StartDocServer()
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		base = srv.URL
	}
	ckOpts := []store.CheckpointOption{store.WithInterval(o.Every), store.WithEvery(o.CheckpointSteps)}
	var jr *store.Journal
	if !o.NoJournal {
		if jr, err = store.OpenJournal(db, reg); err != nil {
			return nil, fmt.Errorf("longtask: %w", err)
		}
		defer jr.Close()
		ckOpts = append(ckOpts, store.WithJournal(jr))
	}
	client := &http.Client{Timeout: time.Minute}
	fx := scheduler.WithEffects(Effects(base, client), scheduler.EffectConfig{Journal: jr})
	ck := store.NewCheckpointer(db, reg, ckOpts...)
	s, j, err := resume(ck, db, reg, path, o, fx)
	if err != nil {
		return nil, err
	}
	rep := &Report{DB: path, Resumed: ck.Resumed(), ResumedDocs: j.done()}
	for _, err := range ck.Damaged() {
		rep.Damaged = append(rep.Damaged, err.Error())
	}
	logStart(o, rep, j.config(), j.result != nil)
	if j.result != nil {
		rep.Result, rep.AlreadyDone, rep.Gen = *j.result, true, ck.Resumed()
		return rep, nil
	}
	if o.OnStart != nil {
		o.OnStart(s, db)
	}
	start := time.Now()
	if err := drive(ctx, s, ck, j.reducer, o); err != nil {
		if rerr := (*scheduler.ReplayedError)(nil); errors.As(err, &rerr) {
			// It read as a live failure, with --server long gone.
			return nil, fmt.Errorf("longtask: %w\nlongtask: that %s call failed in an earlier run; the journal in %s keeps its outcome so the call is not made twice, and gives it again; to make the call again, start over with --fresh",
				err, rerr.Effect, path)
		}
		return nil, fmt.Errorf("longtask: %w", err)
	}
	rep.Elapsed = time.Since(start)
	if j, err = findJob(s); err != nil {
		return nil, fmt.Errorf("longtask: the pipeline ended without a result: %w", err)
	}
	if j.result == nil {
		return nil, fmt.Errorf("longtask: the pipeline ended without a result; the reducer had merged %d documents", j.done())
	}
	// Store the finished world too, so that a new run only prints the result.
	if err := ck.Checkpoint(s); err != nil {
		return nil, fmt.Errorf("longtask: %w", err)
	}
	rep.Result, rep.Gen = *j.result, ck.Last()
	if jr != nil {
		rep.Journal = jr.Stats()
	}
	note(o.Events, "done gen=%d docs=%d", rep.Gen, rep.Result.Docs)
	return rep, nil
}

// openStore opens the checkpoint database at path, first deleting it when
// fresh is set.
func openStore(path string, fresh bool, log io.Writer) (*store.DB, error) {
	if err := atomicfile.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("longtask: data directory %s: %w", filepath.Dir(path), err)
	}
	if fresh {
		if err := removeStore(path, log); err != nil {
			return nil, err
		}
	}
	db, err := store.Open(path, store.WithTimeout(lockWait))
	if unusable(err) {
		return nil, fmt.Errorf("longtask: %w; --fresh moves it aside (kept, not deleted) and starts over", err)
	}
	if err != nil {
		return nil, fmt.Errorf("longtask: %w", err)
	}
	return db, nil
}

// unusable reports whether Open refused the file itself: damaged, not a
// database, or of another format version.
func unusable(err error) bool {
	return errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNotDatabase) || errors.Is(err, store.ErrVersion)
}

// resume restores the newest checkpoint (or sets up a fresh run) and checks
// that it is the run o asks for. A finished run (store.ErrFinished) is
// restored too: its result is in the world it left.
func resume(ck *store.Checkpointer, db *store.DB, reg *pickle.Registry, path string, o Options, opts ...scheduler.Option) (*scheduler.Scheduler, job, error) {
	s, err := ck.Resume(func(s *scheduler.Scheduler) error {
		Setup(s, o.config())
		return nil
	}, opts...)
	if errors.Is(err, store.ErrFinished) {
		s, err = store.Restore(db, reg, ck.Resumed(), opts...)
	}
	if errors.Is(err, pickle.ErrUnregistered) || errors.Is(err, pickle.ErrUnknownKind) {
		return nil, job{}, fmt.Errorf("longtask: %s does not hold a long-task run (another program wrote it): %w; use another --data directory (or --fresh, which deletes it)", path, err)
	}
	if err != nil {
		return nil, job{}, fmt.Errorf("longtask: resume from %s: %w (--fresh starts over)", path, err)
	}
	j, err := findJob(s)
	if err != nil {
		return nil, j, fmt.Errorf("longtask: %s does not hold a long-task run: %w; use another --data directory or --fresh", path, err)
	}
	if cfg := j.config(); !o.agrees(cfg) {
		return nil, j, fmt.Errorf("longtask: %s holds a run with docs=%d workers=%d seed=%d, not the one asked for; resume it with those values (or none), or start over with --fresh",
			path, cfg.Docs, cfg.Workers, cfg.Seed)
	}
	return s, j, nil
}

// drive runs s until the pipeline finishes, a slice at a time, updating the
// progress bar and reporting checkpoints between slices.
func drive(ctx context.Context, s *scheduler.Scheduler, ck *store.Checkpointer, r *Reducer, o Options) error {
	var bar *progress
	if o.Progress != nil {
		bar = newProgress(o.Progress, r.Config.Docs, r.Done)
	}
	last := ck.Last()
	for s.Len() > 0 {
		_, err := s.RunBudget(ctx, slice, scheduler.Total|scheduler.Soft)
		if g := ck.Last(); g != last {
			last = g
			note(o.Events, "checkpoint gen=%d docs=%d", g, r.Done)
		}
		if bar != nil {
			bar.update(r.Done)
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			if bar != nil {
				bar.finish(r.Done)
			}
			return interrupted(s, ck, r, err)
		}
		if err != nil {
			return err
		}
	}
	if bar != nil {
		bar.finish(r.Done)
	}
	return nil
}

// interrupted saves the progress made since the last checkpoint.
func interrupted(s *scheduler.Scheduler, ck *store.Checkpointer, r *Reducer, cause error) error {
	if err := ck.Checkpoint(s); err != nil {
		return fmt.Errorf("interrupted after %d of %d documents, and the final checkpoint failed (the run resumes from generation %d): %w",
			r.Done, r.Config.Docs, ck.Last(), errors.Join(cause, err))
	}
	return fmt.Errorf("interrupted after %d of %d documents; saved as generation %d, run again to resume: %w",
		r.Done, r.Config.Docs, ck.Last(), cause)
}

// removeStore deletes the database at path for --fresh, after checking
// that no other process has it open (it would go on writing to the deleted
// file and the two runs would not know of each other). A file that is not
// a usable database is moved aside instead (store.MoveAside, which checks
// the lock too): it may be the only copy of a run worth a backup restore.
func removeStore(path string, log io.Writer) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := store.Open(path, store.WithTimeout(lockWait))
	if unusable(err) {
		to, merr := store.MoveAside(path)
		if merr != nil {
			return fmt.Errorf("longtask: --fresh: %w (it was refused: %v)", merr, err)
		}
		note(log, "longtask: --fresh: %s could not be used, moved aside to %s (kept): %v", path, to, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("longtask: --fresh: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("longtask: --fresh: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("longtask: --fresh: %w", err)
	}
	return nil
}

// logStart says what Run found in the database.
func logStart(o Options, rep *Report, cfg Config, finished bool) {
	log := o.Log
	for _, d := range rep.Damaged {
		note(log, "longtask: passed over a damaged checkpoint: %s", d)
	}
	switch {
	case finished:
		note(log, "longtask: %s holds a finished run (generation %d): it was already complete; --fresh starts over", rep.DB, rep.Resumed)
	case rep.Resumed == 0:
		note(log, "longtask: starting: %d documents, %d workers, seed %d; checkpoints go to %s", cfg.Docs, cfg.Workers, cfg.Seed, rep.DB)
	default:
		note(log, "longtask: resuming from generation %d of %s: %d of %d documents done", rep.Resumed, rep.DB, rep.ResumedDocs, cfg.Docs)
	}
	note(o.Events, "resume gen=%d docs=%d", rep.Resumed, rep.ResumedDocs)
}

// note writes a line to w, if there is a w.
func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
