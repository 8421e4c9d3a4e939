package game

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/testworld/foreign"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/store"
)

func smallRun(dir string, out *bytes.Buffer) Options {
	return Options{Config: small, Ticks: 60, DataDir: dir, SaveEvery: 20, StatsEvery: 20, Size: 64, Out: out}
}

func lines(out *bytes.Buffer) []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }

// statLines returns the statistics lines without their timings.
func statLines(out *bytes.Buffer) []string {
	var got []string
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "tick ") {
			got = append(got, l[:strings.Index(l, "  kills")])
		}
	}
	return got
}

func TestRunNewGameThenLoad(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	first, err := Run(t.Context(), smallRun(dir, &out))
	require.NoError(t, err)
	out1 := lines(&out)
	assert.True(t, strings.HasPrefix(out1[0], "new game: 300 entities (150 guards, 150 monsters)"), out1[0])
	assert.NotContains(t, out1[0], "replaces", "nothing was saved before")
	assert.Len(t, statLines(&out), 3, "a line every 20 ticks:\n%s", out.String())
	assert.Contains(t, out.String(), "saved tick 60 to "+filepath.Join(dir, SaveName))
	assert.Equal(t, int64(60), first.Stats.Tick)
	assert.Equal(t, []string{filepath.Join(dir, "world.png")}, first.Pictures)
	assert.FileExists(t, filepath.Join(dir, "world.png"))

	out.Reset()
	opts := smallRun(dir, &out)
	opts.Load, opts.Ticks = true, 40
	loaded, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(lines(&out)[0], "loaded "+filepath.Join(dir, SaveName)), lines(&out)[0])
	assert.Contains(t, lines(&out)[0], "tick 60, 300 entities")
	assert.Equal(t, int64(60), loaded.FromTick)
	assert.Equal(t, int64(100), loaded.Stats.Tick)
	loadedLines := statLines(&out)
	loadedPNG, err := os.ReadFile(filepath.Join(dir, "world.png"))
	require.NoError(t, err)

	// The same 100 ticks in one session.
	other := t.TempDir()
	out.Reset()
	opts = smallRun(other, &out)
	opts.Ticks = 100
	unbroken, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, unbroken.Stats, loaded.Stats)
	assert.Equal(t, statLines(&out)[3:], loadedLines, "ticks 80 and 100")
	unbrokenPNG, err := os.ReadFile(filepath.Join(other, "world.png"))
	require.NoError(t, err)
	assert.Equal(t, unbrokenPNG, loadedPNG, "the same picture of tick 100")

	// A new game over the save says it replaces it: it deleted it without a word.
	out.Reset()
	_, err = Run(t.Context(), smallRun(dir, &out))
	require.NoError(t, err)
	assert.Contains(t, lines(&out)[0], "(it replaces the saved game there, 5 generations; --load goes on from a save instead)")
}

// --save-every 0 on a loaded game saved at the end anyway (a generation
// the flag's "0: never" had said would not be made).
func TestLoadWithoutSavingLeavesTheSave(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	first, err := Run(t.Context(), smallRun(dir, &out))
	require.NoError(t, err)

	out.Reset()
	opts := smallRun(dir, &out)
	opts.Load, opts.Ticks, opts.SaveEvery = true, 10, 0
	res, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(70), res.Stats.Tick)
	assert.Equal(t, first.Generation, res.Generation, "no generation added")
	assert.Contains(t, out.String(), "not saved (--save-every 0): "+filepath.Join(dir, SaveName)+" stays at tick 60")
	assert.NotContains(t, out.String(), "saved tick")

	out.Reset()
	opts.Ticks = 1
	again, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(61), again.Stats.Tick, "the save is still at tick 60")
}

// cancelOn cancels a context when a line containing `at` is written.
type cancelOn struct {
	bytes.Buffer
	at     string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.at) {
		c.cancel()
	}
	return c.Buffer.Write(p)
}

func TestRunInterruptedSavesAndResumes(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelOn{at: "tick 40 ", cancel: cancel}
	opts := smallRun(dir, nil)
	opts.Out, opts.SaveEvery, opts.Ticks = out, 30, 1000
	res, err := Run(ctx, opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(40), res.Stats.Tick, "stops after the tick it was interrupted in")
	assert.Contains(t, out.String(), "interrupted at tick 40\nsaved tick 40 to ")

	var again bytes.Buffer
	opts = smallRun(dir, &again)
	opts.Load, opts.Ticks = true, 1
	res, err = Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(40), res.FromTick, "resumes where it was interrupted")
}

func TestRunPicturesAndNoSave(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	opts := smallRun(dir, &out)
	opts.SaveEvery, opts.RenderEvery, opts.StatsEvery = 0, 25, 0
	opts.Render = filepath.Join(dir, "map.png")
	res, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, []string{
		filepath.Join(dir, "map-t000025.png"), filepath.Join(dir, "map-t000050.png"), filepath.Join(dir, "map.png"),
	}, res.Pictures)
	for _, p := range res.Pictures {
		assert.FileExists(t, p)
	}
	assert.NoFileExists(t, filepath.Join(dir, SaveName), "no autosave, no save file")
	assert.Contains(t, lines(&out)[0], "no autosave")
	assert.Len(t, statLines(&out), 1, "one line at the end")
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	opts := smallRun(t.TempDir(), &out)
	opts.Load = true
	_, err := Run(t.Context(), opts)
	assert.ErrorContains(t, err, "no saved game to load")

	for _, bad := range []func(*Options){
		func(o *Options) { o.Ticks = -1 },
		func(o *Options) { o.SaveEvery = -5 },
		func(o *Options) { o.Size = 4 },
		func(o *Options) { o.Entities = 1 },
	} {
		opts := smallRun(t.TempDir(), &out)
		bad(&opts)
		_, err := Run(t.Context(), opts)
		assert.ErrorIs(t, err, ErrUsage)
	}
}

func TestRunNewGameReplacesTheSave(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := Run(t.Context(), smallRun(dir, &out)) // 60 ticks, saved
	require.NoError(t, err)

	opts := smallRun(dir, &out)
	opts.Ticks, opts.Seed = 20, 7
	second, err := Run(t.Context(), opts)
	require.NoError(t, err)

	opts = smallRun(dir, &out)
	opts.Load, opts.Ticks = true, 1
	loaded, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(20), loaded.FromTick, "the new game's save, not the old one's")

	// The same as seed 7 played 21 ticks in one go.
	opts = smallRun(t.TempDir(), &out)
	opts.Ticks, opts.Seed = 21, 7
	unbroken, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, unbroken.Stats, loaded.Stats)
	assert.Equal(t, int64(20), second.Stats.Tick)
}

// TestRunProgressBar: on a terminal the session shows a progress bar (the
// progressbar library's: count, rate, time left) that every message wipes
// first, so a message never lands behind the bar on its line.
func TestRunProgressBar(t *testing.T) {
	var term bytes.Buffer // stdout and stderr on one terminal
	opts := smallRun(t.TempDir(), &term)
	opts.Progress = &term
	_, err := Run(t.Context(), opts)
	require.NoError(t, err)
	got := term.String()
	assert.Contains(t, got, "ticks", "the bar's description")
	assert.Contains(t, got, "60/60", "the count, at the last tick")
	assert.Contains(t, got, "100%")
	assert.NotContains(t, got, "(60 of 60, 100%)", "not the hand-made line")
	for _, msg := range []string{"saved tick 60", "picture of tick 60", "played 60 ticks"} {
		i := strings.Index(got, msg)
		require.Positive(t, i, msg)
		before := got[:i]
		if j := strings.LastIndexAny(before, "\r\n"); assert.GreaterOrEqual(t, j, 0) {
			assert.Empty(t, strings.TrimSpace(before[j+1:]), "%q starts on a clean line", msg)
		}
	}
	stats := 0
	for _, l := range strings.Split(got, "\n") {
		if i := strings.LastIndex(l, "\r"); i >= 0 {
			l = l[i+1:] // what the terminal shows of the line
		}
		if strings.HasPrefix(l, "tick ") {
			stats++
		}
	}
	assert.Equal(t, 3, stats, "each statistics line shows whole, the bar wiped before it")
}

// A game too large to save is refused before it starts, not at its first
// autosave (200,000 entities failed there when records stopped at 16
// MiB), and the bound leaves the largest game that saves room to grow.
func TestRunSavedGameSizeIsBounded(t *testing.T) {
	var out bytes.Buffer
	opts := smallRun(t.TempDir(), &out)
	opts.Entities, opts.Ticks, opts.SaveEvery = MaxSavedEntities+1, 1, 1
	_, err := Run(t.Context(), opts)
	require.ErrorIs(t, err, ErrUsage)
	assert.ErrorContains(t, err, "save-every 0")

	g := newGame(t, small)
	for range 300 {
		require.NoError(t, g.Tick())
	}
	reg, err := NewRegistry()
	require.NoError(t, err)
	_, recs, err := reg.EncodeWorld(g.Sched.World())
	require.NoError(t, err)
	largest := 0 // the world tasklet's record
	for _, r := range recs {
		largest = max(largest, len(r.Value))
	}
	scaled := largest * MaxSavedEntities / small.Entities
	assert.Less(t, scaled*3/2, MaxRecord, "the world record of %d entities, %d bytes, with half again for growth", MaxSavedEntities, scaled)
}

// A save written by another program (a long task's database put where the
// game's goes) failed with "type not registered in this program; register
// it with pickle.RegisterValue", advice for a programmer, not a player.
func TestLoadOfAnotherProgramsDatabase(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, foreign.Write(filepath.Join(dir, SaveName)))
	var out bytes.Buffer
	opts := smallRun(dir, &out)
	opts.Load = true
	_, err := Run(t.Context(), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, SaveName)+" is not a gameai save (another program wrote it)")
	assert.Contains(t, err.Error(), "give another --data folder")
}

// A game whose world record is over pickle's default record limit (16 MiB,
// which held saved games to 100,000 entities) saves, loads and plays on
// as the game that never stopped.
func TestRunBigGameSavesAndLoads(t *testing.T) {
	const entities = 200_000 // a world record of about 18 MB
	big := func(dir string, out *bytes.Buffer) Options {
		return Options{Config: Config{Entities: entities, Seed: 7}, Ticks: 1, SaveEvery: 1, DataDir: dir, Size: 16, Out: out}
	}
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := Run(t.Context(), big(dir, &out))
	require.NoError(t, err, out.String())

	db, err := store.Open(filepath.Join(dir, SaveName), store.WithReadOnly())
	require.NoError(t, err)
	gen, err := db.Latest()
	require.NoError(t, err)
	cp, err := db.Load(gen)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	largest := 0
	for _, r := range cp.Records {
		largest = max(largest, len(r.Value))
	}
	assert.Greater(t, largest, pickle.DefaultMaxRecord, "the world record")

	out.Reset()
	opts := big(dir, &out)
	opts.Load, opts.Ticks = true, 1
	loaded, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Contains(t, lines(&out)[0], fmt.Sprintf("tick 1, %d entities", entities))

	opts = big(t.TempDir(), &out)
	opts.Ticks, opts.SaveEvery = 2, 0
	unbroken, err := Run(t.Context(), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(2), loaded.Stats.Tick)
	assert.Equal(t, unbroken.Stats, loaded.Stats, "tick 2, loaded and unbroken")
}
