package flowtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// saveAtBottom runs Countdown(n) until its deepest level blocks, and saves
// the world there.
func saveAtBottom(t *testing.T, n int) ([]byte, channel.ID, error) {
	t.Helper()
	s := scheduler.New()
	out := s.NewChannel(0) // nobody receives: the bottom level blocks on it
	s.Spawn(flowtest.NewCountdown(out, n))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.Run(ctx)
	require.ErrorIs(t, err, scheduler.ErrDeadlock)
	b, err := pickle.Default.DumpWorld(s.World())
	return b, out, err
}

// Each level of a recursion nests its frame in its caller's, and a save
// refuses a state nested deeper than pickle.MaxNest: a recursion 400 deep
// saves, loads in another scheduler and goes on to its end; one deeper than
// MaxNest fails the save loudly, saying why and what to do, where the run
// itself goes on.
func TestARecursionTooDeepToSaveSaysSo(t *testing.T) {
	n := 400
	b, out, err := saveAtBottom(t, n)
	require.NoError(t, err)
	w, err := pickle.Default.LoadWorld(b)
	require.NoError(t, err, "%d levels saved, so they load", n)
	s, err := scheduler.Restore(w)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []string
	for range n + 1 {
		v, err := s.Recv(ctx, out) // runs the restored levels until each sends
		require.NoError(t, err)
		got = append(got, v.(string))
	}
	require.NoError(t, s.Run(ctx))
	assert.Zero(t, s.Len(), "every level returned")
	assert.Equal(t, "bottom", got[0])
	assert.Equal(t, "up 10", got[1], "the deepest level's own local, restored")
	assert.Equal(t, fmt.Sprint("up ", n*10), got[n], "the outermost level's")

	_, _, err = saveAtBottom(t, pickle.MaxNest+10)
	require.ErrorIs(t, err, pickle.ErrTooDeep)
	assert.Contains(t, err.Error(), "Countdown.Countdown.Countdown")
	assert.Contains(t, err.Error(), "a flow function that recursed that deep")
}

// A damaged save can name a call whose frame it lacks: asked where it is
// (as stackless inspect asks any save), the tasklet names its own frame
// and stops there; run, it fails saying its save is damaged where, and the
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
	assert.ErrorContains(t, failed[0], "a damaged save: Countdown resumes in its call of Countdown (recursion.go:143) but holds no frame for that call")
	assert.Equal(t, 2, s.Channel(out).Len(), "the healthy tasklet ran to its end")
}

// A recursion keeps its frames, zeroed, for its next call (no allocation
// when it goes as deep again): a save after a deep call, at a shallow one,
// holds only the frames in use, and a restore goes on from there.
func TestFramesKeptFromADeepRecursionAreNotSaved(t *testing.T) {
	s := scheduler.New()
	out := s.NewChannel(1)
	deep := pickle.MaxNest + 100 // too deep to save while in use
	s.Spawn(flowtest.NewDive(out, deep, 2))
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
	assert.Equal(t, []any{deep*1000 + 2}, r.Channel(out).Buffer())
}
