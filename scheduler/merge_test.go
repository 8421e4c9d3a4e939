package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
)

// TestMergeTwoNodes blocks a tasklet of node 1 on a channel of node 2 (a
// remote waiter at 2), merges both worlds into one scheduler, and checks the
// waiter became local and the rendezvous completes there.
func TestMergeTwoNodes(t *testing.T) {
	a, b := twoNodes()
	ch := b.NewChannel(0)
	rcv := &recvLog{Ch: ch, N: 1}
	a.Spawn(rcv)
	tickUntil(t, func() bool { return b.Balance(ch) == -1 }, a, b)

	m, err := scheduler.Merge(1, a.World(), b.World())
	require.NoError(t, err)
	s, err := scheduler.Restore(m)
	require.NoError(t, err)
	assert.Equal(t, -1, s.Balance(ch))
	cs, err := s.ChannelState(ch)
	require.NoError(t, err)
	require.Len(t, cs.Receivers, 1)
	assert.False(t, cs.Receivers[0].Remote, "the waiter's tasklet is local after the merge")

	s.Spawn(&sendList{Ch: ch, Vals: []int{42}})
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, []any{42}, rcv.Got)
	assert.Equal(t, 0, s.Len())
}

func TestMergeRefusesDuplicates(t *testing.T) {
	s := scheduler.New(scheduler.WithNode(1))
	s.Spawn(&sendList{})
	_, err := scheduler.Merge(1, s.World(), s.World())
	assert.ErrorIs(t, err, scheduler.ErrInvalidRestore)
}
