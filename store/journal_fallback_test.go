package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// A checkpoint trimmed the journal entries of the calls its tasklets were
// past as soon as it was stored. When that newest generation was then
// found damaged, Resume restored the one before it, and the calls made
// between the two were issued again: the journal that was to answer them
// had been trimmed by the generation passed over. Entries now go one
// checkpoint late, so falling back one generation repeats no call.
func TestJournalAnswersAfterTheNewestGenerationIsDamaged(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			var opts []store.CheckpointOption
			if async {
				opts = append(opts, store.WithAsync())
			}
			c := newCrawl(t, 2, 30, opts...)
			reg, db, world, j, ck, s := c.reg, c.db, c.world, c.j, c.ck, c.s
			var err error
			ctx := runCtx(t)
			for range 3 { // three generations, calls answered between each
				_, err = s.RunBudget(ctx, 8, scheduler.Total|scheduler.Soft)
				require.NoError(t, err)
				require.NoError(t, ck.Checkpoint(s))
			}
			require.NoError(t, ck.Close())
			newest := ck.Last()
			require.NoError(t, j.Close())
			calls, _ := world.total()
			require.Positive(t, calls)
			require.Less(t, calls, 2*30, "the crawlers are midway")

			// The crash, and the newest generation found damaged.
			require.NoError(t, store.DamageGeneration(db, newest))
			j2 := openJournal(t, db, reg)
			ck2 := store.NewCheckpointer(db, reg, store.WithJournal(j2))
			r, err := ck2.Resume(nil, scheduler.WithEffects(world.effects(t), scheduler.EffectConfig{Journal: j2}))
			require.NoError(t, err)
			require.Equal(t, newest-1, ck2.Resumed(), "the generation before the damaged one")
			require.NoError(t, r.Run(ctx))
			calls, repeated := world.total()
			assert.Equal(t, 2*30, calls, "every page fetched")
			assert.Zero(t, repeated, "no call made twice: the journal answered those after the generation restored")
			assert.Positive(t, j2.Stats().Hits)
		})
	}
}

// Restart starts a new run over an old one whose journal still held the
// results of calls the old run had made: the new run's tasklets have the
// same IDs and steps, so its calls were answered with the old run's
// results and never made. Restart now empties the journal first.
func TestRestartDoesNotAnswerFromTheOldRunsJournal(t *testing.T) {
	c := newCrawl(t, 1, 6)
	world, j, cfg, ck, s := c.world, c.j, c.cfg, c.ck, c.s
	ctx := runCtx(t)
	_, err := s.RunBudget(ctx, 4, scheduler.Total|scheduler.Soft) // the old run stops before its first checkpoint
	require.NoError(t, err)
	before, _ := world.total()
	require.Positive(t, before)
	n, err := j.Len()
	require.NoError(t, err)
	require.Positive(t, n, "the old run's results are journaled")

	s2, err := ck.Restart(crawl(1, 6), scheduler.WithEffects(world.effects(t), cfg))
	require.NoError(t, err)
	require.NoError(t, s2.Run(ctx))
	calls, repeated := world.total()
	assert.Equal(t, before+6, calls, "the new run made all its own calls")
	assert.Equal(t, before, repeated, "the pages the old run fetched are fetched again")
}
