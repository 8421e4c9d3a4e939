package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testwatch"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
	"github.com/stackless-go/stackless/tasklet"
)

// Page is an effect's response type.
type Page struct {
	URL  string
	Body string
}

// Crawler fetches pages 0..N-1 one by one and sums their body lengths:
// the whole state is its exported fields.
type Crawler struct {
	Base  string
	N, I  int
	Total int
	Waits bool // waiting for the answer to fetch I
}

func (c *Crawler) Step(t *tasklet.T) tasklet.Op {
	if c.Waits {
		if err := t.Err(); err != nil {
			return t.Fail(err)
		}
		c.Total += len(t.Value().(Page).Body)
		c.I++
		c.Waits = false
	}
	if c.I == c.N {
		return t.Exit()
	}
	c.Waits = true
	return t.Do("fetch", fmt.Sprintf("%s/%d", c.Base, c.I))
}

func journalRegistry(t testing.TB) *pickle.Registry {
	reg := pickle.NewRegistry()
	require.NoError(t, reg.Register("crawler", 1, &Crawler{}))
	require.NoError(t, pickle.RegisterValue[Page](reg, "page"))
	return reg
}

// counter is the outside world: it counts the fetches of each URL.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) effects(t testing.TB) *scheduler.Effects {
	reg := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(reg, "fetch", func(_ context.Context, _ scheduler.EffectKey, url string) (Page, error) {
		c.mu.Lock()
		c.n[url]++
		c.mu.Unlock()
		return Page{URL: url, Body: "body of " + url}, nil
	}))
	return reg
}

func (c *counter) total() (calls, repeated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.n {
		calls += n
		repeated += n - 1
	}
	return calls, repeated
}

func openJournal(t testing.TB, db *store.DB, reg *pickle.Registry) *store.Journal {
	j, err := store.OpenJournal(db, reg)
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	return j
}

func TestJournalRecordsSurviveReopen(t *testing.T) {
	reg := journalRegistry(t)
	path := filepath.Join(t.TempDir(), "j.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	j, err := store.OpenJournal(db, reg)
	require.NoError(t, err)
	key := scheduler.EffectKey{Tasklet: 5, Step: 9, Case: 1}
	res := scheduler.EffectResult{Effect: "fetch", Resp: Page{URL: "u", Body: "b"}}
	failed := scheduler.EffectResult{Effect: "fetch", Err: "remote said no"}
	done := make(chan error, 2)
	j.Record(key, res, func(err error) { done <- err })
	j.Record(scheduler.EffectKey{Tasklet: 5, Step: 11}, failed, func(err error) { done <- err })
	for range 2 {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("the journal did not report its records durable")
		}
	}
	require.NoError(t, j.Close())
	require.NoError(t, db.Close())

	db, err = store.Open(path)
	require.NoError(t, err)
	defer db.Close()
	j = openJournal(t, db, reg)
	got, ok, err := j.Lookup(key)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, res, got)
	got, ok, err = j.Lookup(scheduler.EffectKey{Tasklet: 5, Step: 11})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, failed, got)
	_, ok, err = j.Lookup(scheduler.EffectKey{Tasklet: 5, Step: 10})
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestJournalGroupCommits: many results recorded together share
// transactions.
func TestJournalGroupCommits(t *testing.T) {
	reg := journalRegistry(t)
	j := openJournal(t, openDB(t), reg)
	const n = 2000
	var wg sync.WaitGroup
	var failures atomic.Int32
	wg.Add(n)
	for i := range n {
		go j.Record(scheduler.EffectKey{Tasklet: tasklet.ID(i + 1), Step: 1}, scheduler.EffectResult{Effect: "e", Resp: i}, func(err error) {
			if err != nil {
				failures.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	st := j.Stats()
	assert.Zero(t, failures.Load())
	assert.Equal(t, n, st.Records)
	assert.Less(t, st.Commits, n/4, "results recorded together share transactions")
	l, err := j.Len()
	require.NoError(t, err)
	assert.Equal(t, n, l)
}

func TestJournalDropsADamagedEntry(t *testing.T) {
	reg := journalRegistry(t)
	path := filepath.Join(t.TempDir(), "j.db")
	db, err := store.Open(path)
	require.NoError(t, err)
	j, err := store.OpenJournal(db, reg)
	require.NoError(t, err)
	key := scheduler.EffectKey{Tasklet: 1, Step: 1}
	done := make(chan error, 1)
	j.Record(key, scheduler.EffectResult{Effect: "fetch", Resp: "x"}, func(err error) { done <- err })
	require.NoError(t, <-done)
	require.NoError(t, j.Close())
	require.NoError(t, store.DamageJournalEntry(db, key))
	// A damaged entry cannot say which call it answers: opening the journal
	// drops it, and the call runs again as it would without a journal.
	j = openJournal(t, db, reg)
	assert.Equal(t, 1, j.Stats().Dropped)
	_, ok, err := j.Lookup(key)
	assert.False(t, ok)
	assert.NoError(t, err)
	n, err := j.Len()
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NoError(t, j.Close())
	require.NoError(t, db.Close())
}

// crawl sets up the crawlers of a run.
func crawl(n, pages int) func(*scheduler.Scheduler) error {
	return func(s *scheduler.Scheduler) error {
		for i := range n {
			s.Spawn(&Crawler{Base: fmt.Sprintf("site%d", i), N: pages})
		}
		return nil
	}
}

// TestJournalMakesEffectsExactlyOnceAcrossARestore: a run checkpoints
// midway and goes on to its end, then "crashes"; the run resumed from the
// checkpoint repeats every call made after it, and the journal answers
// each: no URL is fetched twice, and both runs end the same.
func TestJournalMakesEffectsExactlyOnceAcrossARestore(t *testing.T) {
	for _, journaled := range []bool{true, false} {
		t.Run(fmt.Sprint("journal=", journaled), func(t *testing.T) {
			reg := journalRegistry(t)
			db := openDB(t, store.WithKeep(0))
			world := &counter{n: map[string]int{}}
			ck := store.NewCheckpointer(db, reg)
			var j *store.Journal
			cfg := scheduler.EffectConfig{}
			if journaled {
				j = openJournal(t, db, reg)
				cfg.Journal = j
			}
			const crawlers, pages = 20, 10
			s, err := ck.Resume(crawl(crawlers, pages), scheduler.WithEffects(world.effects(t), cfg))
			require.NoError(t, err)
			ctx := runCtx(t)
			_, err = s.RunBudget(ctx, crawlers*pages/2, scheduler.Total|scheduler.Soft)
			require.NoError(t, err)
			require.NoError(t, ck.Checkpoint(s))
			mid := ck.Last()
			var ids []tasklet.ID
			for _, ts := range s.World().Tasklets {
				ids = append(ids, ts.ID)
			}
			require.NotEmpty(t, ids, "the crawlers are midway")
			var ended []int
			s.SetErrorHandler(func(err error) { t.Error(err) })
			// Keep the crawlers' end states: they exit, so read them by hand.
			live := map[tasklet.ID]*Crawler{}
			for _, id := range ids {
				live[id] = s.Behavior(id).(*Crawler)
			}
			require.NoError(t, s.Run(ctx))
			for _, id := range ids {
				ended = append(ended, live[id].Total)
			}
			calls, repeated := world.total()
			require.Equal(t, crawlers*pages, calls)
			require.Zero(t, repeated)

			// The crash: resume from the midway checkpoint.
			r, err := store.Restore(db, reg, mid, scheduler.WithEffects(world.effects(t), cfg))
			require.NoError(t, err)
			again := map[tasklet.ID]*Crawler{}
			for _, id := range ids {
				again[id] = r.Behavior(id).(*Crawler)
			}
			require.NoError(t, r.Run(ctx))
			var resumed []int
			for _, id := range ids {
				resumed = append(resumed, again[id].Total)
			}
			assert.Equal(t, ended, resumed, "the resumed run ends as the unbroken one")
			_, repeated = world.total()
			if journaled {
				assert.Zero(t, repeated, "no URL fetched twice")
				assert.Positive(t, j.Stats().Hits)
			} else {
				assert.Positive(t, repeated, "without a journal the calls after the checkpoint run again")
			}
		})
	}
}

// TestCheckpointTrimsTheJournal: a checkpoint deletes the entries of calls
// the checkpoint before it showed its tasklets past (one late, so a
// fallback to that one still finds them), keeps the one a tasklet waits
// on, and, in a world resumed from an older checkpoint, keeps the entries
// of calls its tasklets have not reached again.
func TestCheckpointTrimsTheJournal(t *testing.T) {
	c := newCrawl(t, 1, 6)
	db, reg, world, j, cfg, ck, s := c.db, c.reg, c.world, c.j, c.cfg, c.ck, c.s
	ctx := runCtx(t)
	length := func() int {
		t.Helper()
		n, err := j.Len()
		require.NoError(t, err)
		return n
	}
	// Three steps: three fetches asked, two answered and journaled; the
	// checkpoint shows the crawler past both, and keeps them for now.
	_, err := s.RunBudget(ctx, 3, scheduler.Total|scheduler.Soft)
	require.NoError(t, err)
	require.NoError(t, ck.Checkpoint(s))
	assert.GreaterOrEqual(t, length(), 2, "the two answered calls are kept until the next checkpoint")
	require.NoError(t, ck.Checkpoint(s))
	early := ck.Last()
	assert.LessOrEqual(t, length(), 1, "the next checkpoint trims them (the third, waited on, may be journaled already)")
	require.NoError(t, s.Run(ctx))
	assert.Equal(t, 4, length(), "the calls answered after the checkpoint are journaled")

	// Resumed from that checkpoint, the crawler waits on its third call
	// again: a checkpoint now keeps that entry and those ahead of it.
	r, err := store.Restore(db, reg, early, scheduler.WithEffects(world.effects(t), cfg))
	require.NoError(t, err)
	require.NoError(t, ck.Checkpoint(r))
	require.NoError(t, ck.Checkpoint(r))
	assert.Equal(t, 4, length(), "the call waited on and the three ahead are kept")
	require.NoError(t, r.Run(ctx))
	_, repeated := world.total()
	assert.Zero(t, repeated, "the journal answered every repeated call")
	require.NoError(t, ck.Checkpoint(r))
	assert.Equal(t, 4, length(), "the crawler ended: its entries go at the next checkpoint")
	require.NoError(t, ck.Checkpoint(r))
	assert.Zero(t, length(), "nothing is needed")
	assert.Equal(t, 6, j.Stats().Trimmed, "each entry counted once, though two checkpoints listed the first two")
}

// journaledCrawl is a crawl started fresh on a new database, its effects
// journaled and the journal trimmed by its checkpointer.
type journaledCrawl struct {
	reg   *pickle.Registry
	db    *store.DB
	world *counter
	j     *store.Journal
	cfg   scheduler.EffectConfig
	ck    *store.Checkpointer
	s     *scheduler.Scheduler
}

func newCrawl(t *testing.T, crawlers, pages int, opts ...store.CheckpointOption) *journaledCrawl {
	t.Helper()
	c := &journaledCrawl{reg: journalRegistry(t), world: &counter{n: map[string]int{}}}
	c.db = openDB(t, store.WithKeep(0))
	c.j = openJournal(t, c.db, c.reg)
	c.cfg = scheduler.EffectConfig{Journal: c.j}
	c.ck = store.NewCheckpointer(c.db, c.reg, append([]store.CheckpointOption{store.WithJournal(c.j)}, opts...)...)
	var err error
	c.s, err = c.ck.Resume(crawl(crawlers, pages), scheduler.WithEffects(c.world.effects(t), c.cfg))
	require.NoError(t, err)
	return c
}

func runCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var _ = errors.New

// TestJournalCloseWhileRecording: Close races Records made by effects still
// in flight (a run interrupted mid-fetch). A Record that had seen the
// journal open but kicked the committer only after it stopped left the
// one-slot kick channel full, and Close's own kick blocked for good (the
// long task's tests hung in CI, 600 s). Every Close returns, and every
// Record's done is called once: durable, or ErrJournalClosed.
// stacks is runtime.Stack of every goroutine.
func stacks() []byte {
	for buf := make([]byte, 1<<20); ; buf = make([]byte, 2*len(buf)) {
		if n := runtime.Stack(buf, true); n < len(buf) {
			return buf[:n]
		}
	}
}

func TestJournalCloseWhileRecording(t *testing.T) {
	reg := journalRegistry(t)
	db := openDB(t)
	for round := range 300 {
		j, err := store.OpenJournal(db, reg)
		require.NoError(t, err)
		const n = 8
		var wg sync.WaitGroup
		var calls atomic.Int32
		wg.Add(n)
		for i := range n {
			go func() {
				defer wg.Done()
				key := scheduler.EffectKey{Tasklet: tasklet.ID(round*n + i + 1), Step: 1}
				j.Record(key, scheduler.EffectResult{Effect: "e", Resp: i}, func(err error) {
					if err != nil {
						assert.ErrorIs(t, err, store.ErrJournalClosed)
					}
					calls.Add(1)
				})
			}()
		}
		closed := make(chan error, 1)
		go func() { closed <- j.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			// Once at a load of 47 (round 291): a hang or a stalled disk?
			// The goroutines say which.
			var where strings.Builder
			testwatch.Summary(&where, stacks())
			require.FailNow(t, "Close did not return while Records raced it", "round %d; the goroutines:\n%s", round, where.String())
		}
		wg.Wait()
		assert.Equal(t, int32(n), calls.Load(), "every Record's done is called once (round %d)", round)
	}
}

var errGone = errors.New("gone")

// asker asks for one fetch and keeps the error it got.
type asker struct {
	got   *error
	asked bool
}

func (a *asker) Step(t *tasklet.T) tasklet.Op {
	if a.asked {
		*a.got = t.Err()
		return t.Exit()
	}
	a.asked = true
	return t.Do("fetch", "http://x/1")
}

// A failure answered from the journal matches errors.Is as the live one
// did: the journal keeps the registered sentinels of the error's chain.
func TestAJournaledErrorKeepsItsChain(t *testing.T) {
	reg := journalRegistry(t)
	reg.RegisterError("test.gone", errGone)
	j := openJournal(t, openDB(t), reg)
	calls := 0
	fx := scheduler.NewEffects()
	require.NoError(t, scheduler.RegisterEffect(fx, "fetch", func(_ context.Context, _ scheduler.EffectKey, url string) (Page, error) {
		calls++
		return Page{}, fmt.Errorf("fetch %s: %w", url, errGone)
	}))
	run := func() error {
		var got error
		s := scheduler.New(scheduler.WithEffects(fx, scheduler.EffectConfig{Journal: j}))
		s.Spawn(&asker{got: &got})
		require.NoError(t, s.Run(runCtx(t)))
		return got
	}
	live, replayed := run(), run()
	require.Equal(t, 1, calls, "the second run is answered from the journal")
	var re *scheduler.ReplayedError
	require.ErrorAs(t, replayed, &re)
	assert.ErrorIs(t, live, errGone)
	assert.ErrorIs(t, replayed, errGone, "the replayed failure matches as the live one did")
	assert.ErrorIs(t, replayed, scheduler.ErrEffectFailed)
	assert.Equal(t, live.Error(), replayed.Error())
}
