package game

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

// A saved entity holds one copy of its body. The copies in its callers'
// frames (`g, msg, err = await(t, g)`) are dead while the function they
// called runs, since they are assigned from its result, and a save leaves
// them out (stackless gen's DeadFields): a guard on patrol was saved with
// three bodies, the most of its record.
func TestSavedEntitiesHoldOneBody(t *testing.T) {
	g := newGame(t, small)
	for range 300 {
		require.NoError(t, g.Tick())
	}
	reg := registry(t)
	rng := []byte("\xa3Rng") // a Body's field, as msgpack writes its name
	deep := 0
	w := g.Sched.World()
	for i := range w.Tasklets {
		ts := &w.Tasklets[i]
		kind := reg.KindName(ts.Behavior)
		if kind != "gameai.guard" && kind != "gameai.monster" {
			continue
		}
		b, err := reg.DumpTasklet(ts)
		require.NoError(t, err)
		require.Equal(t, 1, bytes.Count(b, rng), "%s t%d is saved with %d bodies", kind, ts.ID, bytes.Count(b, rng))
		if len(ts.Behavior.(tasklet.Framer).Where()) >= 3 {
			deep++ // suspended three calls deep, as a guard on patrol
		}
	}
	assert.Greater(t, deep, small.Entities/2, "too few entities were suspended deep in calls for the test to mean much")
}
