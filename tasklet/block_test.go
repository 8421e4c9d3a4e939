package tasklet_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

func TestBlockHandsOutFreshDistinctRecords(t *testing.T) {
	h := tasklet.NewHost(&fakeHost{})
	var blk tasklet.Block
	seen := map[*tasklet.T]bool{}
	const n = 100 // several blocks
	for i := range n {
		id := tasklet.ID(i + 1)
		tk := blk.Make(id, stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() }), h)
		require.False(t, seen[tk], "record %d handed out twice", i)
		seen[tk] = true
		want := tasklet.Make(id, nil, h)
		assert.Equal(t, want.ID(), tk.ID())
		assert.Equal(t, want.State(), tk.State())
		assert.Equal(t, want.Chosen(), tk.Chosen(), "a fresh record has chosen no case")
		assert.Zero(t, tk.Steps())
		op, unread := tk.Step()
		assert.Equal(t, tasklet.OpExit, op.Kind())
		assert.NoError(t, unread)
	}
	assert.Len(t, seen, n)
}
