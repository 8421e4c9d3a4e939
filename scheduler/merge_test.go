package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
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

// TestRestoreRefusesAPartlyQueuedSelect: a select blocked on two channels
// but queued in only one would later wake wrongly and break the balance.
func TestRestoreRefusesAPartlyQueuedSelect(t *testing.T) {
	w := &scheduler.World{NextTasklet: 1, NextChannel: 2,
		Tasklets: []scheduler.TaskletState{{ID: 1, Behavior: &sendList{}, State: tasklet.Blocked, Chosen: -1,
			Cases: []tasklet.Case{tasklet.RecvCase(1), tasklet.RecvCase(2)}}},
		Channels: []scheduler.ChannelState{
			{ID: 1, Preference: -1, Receivers: []scheduler.WaiterState{{Tasklet: 1, Case: 0}}},
			{ID: 2, Preference: -1},
		}}
	_, err := scheduler.Restore(w)
	require.ErrorIs(t, err, scheduler.ErrInvalidRestore)
	assert.Contains(t, err.Error(), "not in that channel's queue")

	w.Channels[1].Receivers = []scheduler.WaiterState{{Tasklet: 1, Case: 1}}
	s, err := scheduler.Restore(w)
	require.NoError(t, err, "queued in both channels it is a valid world")
	assert.Equal(t, -1, s.Balance(1))
	assert.Equal(t, -1, s.Balance(2))

	w.Channels[1].Receivers = []scheduler.WaiterState{{Tasklet: 1, Case: 0}}
	_, err = scheduler.Restore(w)
	require.ErrorIs(t, err, scheduler.ErrInvalidRestore, "case 0 is on channel 1, not 2")
}
