package flowtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// saveAtBottom runs Countdown(n) until its deepest level blocks, and saves
// the world there.
func saveAtBottom(t *testing.T, n int) error {
	t.Helper()
	s := scheduler.New()
	out := s.NewChannel(0) // nobody receives: the bottom level blocks on it
	s.Spawn(flowtest.NewCountdown(out, n))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.Run(ctx)
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	_, err = pickle.Default.DumpWorld(s.World())
	return err
}

// Each level of a recursion nests its frame in its caller's, and a save
// refuses a state nested deeper than pickle.MaxNest: 40 levels save, 60
// fail the save loudly, saying why and what to do, where the run itself
// goes on.
func TestARecursionTooDeepToSaveSaysSo(t *testing.T) {
	require.NoError(t, saveAtBottom(t, 40))
	err := saveAtBottom(t, 60)
	require.ErrorIs(t, err, pickle.ErrTooDeep)
	assert.Contains(t, err.Error(), "Countdown.Countdown.Countdown")
	assert.Contains(t, err.Error(), "a flow function that recursed that deep")
}

// A damaged save can name a call whose frame it lacks: asked where it is
// (as stackless inspect asks any save), the tasklet names its own frame
// and stops there; run, it fails with the panic as its error, and the
// scheduler goes on.
func TestARecursionMissingItsFrameFailsAlone(t *testing.T) {
	damaged := &flowtest.CountdownTasklet{PC: 2, N: 3, M: 30} // in its call (point 2), with no callee frame
	where := damaged.Where()
	require.Len(t, where, 1)
	assert.Equal(t, "call of Countdown", where[0].Point)

	var failed []error
	s := scheduler.New(scheduler.WithErrorHandler(func(err error) { failed = append(failed, err) }))
	out := s.NewChannel(8)
	damaged.Out = out
	s.Spawn(damaged)
	s.Spawn(flowtest.NewCountdown(out, 1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.Run(ctx))
	require.Len(t, failed, 1)
	assert.ErrorIs(t, failed[0], scheduler.ErrTaskletPanic)
	assert.Equal(t, 2, s.Channel(out).Len(), "the healthy tasklet ran to its end")
}

// A recursion keeps its frames, zeroed, for its next call (no allocation
// when it goes as deep again): a save after a deep call, at a shallow one,
// holds only the frames in use, and a restore goes on from there.
func TestFramesKeptFromADeepRecursionAreNotSaved(t *testing.T) {
	s := scheduler.New()
	out := s.NewChannel(1)
	s.Spawn(flowtest.NewDive(out, 60, 2)) // 60 levels: too deep to save while in use
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.RunBudget(ctx, 1, scheduler.Total|scheduler.Soft) // to the shallow yield
	require.NoError(t, err)
	blob, err := pickle.Default.DumpWorld(s.World())
	require.NoError(t, err)
	w, err := pickle.Default.LoadWorld(blob)
	require.NoError(t, err)
	r, err := scheduler.Restore(w)
	require.NoError(t, err)
	require.NoError(t, r.Run(ctx))
	assert.Equal(t, []any{60002}, r.Channel(out).Buffer())
}
