package flowtest_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/gen/internal/flowtest"
	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
)

// TestSaveLeavesOutInactiveFrames: a save of a lowered tasklet holds the
// frames on its live call chain only; a callee it is not suspended in is
// neither written nor anything but zero when read back. Exprs, on its first
// step, suspends inside add, with span not called yet.
func TestSaveLeavesOutInactiveFrames(t *testing.T) {
	s := scheduler.New()
	in, out := s.NewChannel(0), s.NewChannel(64)
	id := s.Spawn(flowtest.NewExprs(in, out))
	require.NoError(t, s.Tick())
	ts, err := s.TaskletState(id)
	require.NoError(t, err)
	b := ts.Behavior.(*flowtest.ExprsTasklet)
	require.NotZero(t, b.Add.PC, "Exprs is not suspended inside add")
	require.Zero(t, b.Span.PC, "Exprs is suspended inside span")

	blob, err := pickle.Default.DumpTasklet(&ts)
	require.NoError(t, err)
	assert.True(t, bytes.Contains(blob, []byte("\xa3Add")), "the active frame add is not in the save")
	assert.False(t, bytes.Contains(blob, []byte("\xa4Span")), "the inactive frame span is in the save")

	rec, err := pickle.Default.LoadTasklet(blob)
	require.NoError(t, err)
	assert.Equal(t, b, rec.Behavior, "the tasklet read back differs from the one saved")
}
