package scheduler_test

// Conformance tests of DESIGN.md "Semantics": select.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// ---------------------------------------------------------------------------
// Select

func TestSelectFirstReadyCaseWins(t *testing.T) {
	tests := []struct {
		name      string
		cases     func(a, b, c channel.ID) []tasklet.Case
		ready     []string // which of a, b hold a value
		wantIdx   int
		wantValue any
	}{
		{"both ready, a first", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.RecvCase(b)}
		}, []string{"a", "b"}, 0, "A"},
		{"both ready, b first", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(b), tasklet.RecvCase(a)}
		}, []string{"a", "b"}, 0, "B"},
		{"only the second ready", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.RecvCase(b)}
		}, []string{"b"}, 1, "B"},
		{"send into free buffer room", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.RecvCase(a), tasklet.SendCase(c, "x"), tasklet.RecvCase(b)}
		}, []string{"b"}, 1, nil},
		{"ready case beats default", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.DefaultCase(), tasklet.RecvCase(a)}
		}, []string{"a"}, 1, "A"},
		{"ready case beats timeout", func(a, b, c channel.ID) []tasklet.Case {
			return []tasklet.Case{tasklet.TimeoutCase(0), tasklet.RecvCase(a)}
		}, []string{"a"}, 1, "A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			a, b, c := s.NewChannel(1), s.NewChannel(1), s.NewChannel(1)
			for _, r := range tc.ready {
				if r == "a" {
					s.Post(a, "A")
				} else {
					s.Post(b, "B")
				}
			}
			idx, val := -5, any("unset")
			s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op { return t.Select(tc.cases(a, b, c)...) },
				func(t *tasklet.T) tasklet.Op {
					idx, val = t.Chosen(), t.Value()
					if err := t.Err(); err != nil {
						return t.Fail(err)
					}
					return t.Exit()
				}))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.wantIdx, idx)
			assert.Equal(t, tc.wantValue, val)
		})
	}
}

func TestSelectBlocksUntilAnyCase(t *testing.T) {
	tests := []struct {
		name      string
		wake      func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op
		wantIdx   int
		wantValue any
	}{
		{"recv on a", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(a, "va") }
		}, 0, "va"},
		{"recv on b", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Send(b, "vb") }
		}, 1, "vb"},
		{"send on c", func(a, b, c channel.ID) func(t *tasklet.T) tasklet.Op {
			return func(t *tasklet.T) tasklet.Op { return t.Recv(c) }
		}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler.New()
			a, b, c := s.NewChannel(0), s.NewChannel(0), s.NewChannel(0)
			idx, val := -5, any("unset")
			sel := s.Spawn(steps(
				func(t *tasklet.T) tasklet.Op {
					return t.Select(tasklet.RecvCase(a), tasklet.RecvCase(b), tasklet.SendCase(c, "vc"))
				},
				func(t *tasklet.T) tasklet.Op {
					idx, val = t.Chosen(), t.Value()
					return t.Exit()
				}))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, []int{-1, -1, 1}, []int{s.Balance(a), s.Balance(b), s.Balance(c)})
			info, err := s.Info(sel)
			require.NoError(t, err)
			assert.Equal(t, tasklet.Blocked, info.State)
			assert.Equal(t, "selecting", info.Op)
			assert.Equal(t, []channel.ID{a, b, c}, info.Chans)

			var woken any
			s.Spawn(steps(tc.wake(a, b, c), func(t *tasklet.T) tasklet.Op { woken = t.Value(); return t.Exit() }))
			require.NoError(t, s.Run(t.Context()))
			assert.Equal(t, tc.wantIdx, idx)
			assert.Equal(t, tc.wantValue, val)
			if tc.wantIdx == 2 {
				assert.Equal(t, "vc", woken)
			}
			assert.Equal(t, []int{0, 0, 0}, []int{s.Balance(a), s.Balance(b), s.Balance(c)},
				"the other cases leave the balance")

			// The select's stale entries must not take part in later transfers.
			for _, ch := range []channel.ID{a, b} {
				s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Send(ch, "late") }))
			}
			s.Spawn(blockOnce(func(t *tasklet.T) tasklet.Op { return t.Recv(c) }))
			require.ErrorIs(t, s.Run(t.Context()), scheduler.ErrDeadlock)
			assert.Equal(t, []int{1, 1, -1}, []int{s.Balance(a), s.Balance(b), s.Balance(c)})
		})
	}
}

func TestSelectDefault(t *testing.T) {
	tt := t
	s := scheduler.New()
	a := s.NewChannel(0)
	var idx []int
	s.Spawn(steps(
		func(t *tasklet.T) tasklet.Op { return t.Select(tasklet.RecvCase(a), tasklet.DefaultCase()) },
		func(t *tasklet.T) tasklet.Op {
			idx = append(idx, t.Chosen())
			assert.NoError(tt, t.Err())
			assert.Nil(tt, t.Value())
			return t.Exit()
		}))
	require.NoError(t, s.Run(t.Context()), "a select with a default never blocks")
	assert.Equal(t, []int{1}, idx)
	assert.Equal(t, 0, s.Balance(a), "a default select leaves no waiter behind")
}

func TestSelectTimeout(t *testing.T) {
	t.Run("fires on the virtual clock", func(t *testing.T) {
		s := scheduler.New()
		a := s.NewChannel(0)
		var l logger
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(a), tasklet.TimeoutCase(9*time.Second), tasklet.TimeoutCase(5*time.Second))
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("chosen %d at %v err %v", t.Chosen(), t.Now(), t.Err())
				return t.Exit()
			}))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"chosen 2 at 5s err <nil>"}, l.entries, "the shortest timeout fires")
		assert.Equal(t, 5*time.Second, s.Now())
		assert.Equal(t, 0, s.Balance(a))
	})
	t.Run("a value before the timeout", func(t *testing.T) {
		s := scheduler.New()
		a := s.NewChannel(0)
		var l logger
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op {
				return t.Select(tasklet.RecvCase(a), tasklet.TimeoutCase(5*time.Second))
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("chosen %d value %v at %v", t.Chosen(), t.Value(), t.Now())
				return t.Sleep(10 * time.Second)
			},
			func(t *tasklet.T) tasklet.Op {
				l.add("woke at %v", t.Now())
				return t.Exit()
			}))
		s.Spawn(steps(
			func(t *tasklet.T) tasklet.Op { return t.Sleep(2 * time.Second) },
			func(t *tasklet.T) tasklet.Op { return t.Send(a, "v") }))
		require.NoError(t, s.Run(t.Context()))
		assert.Equal(t, []string{"chosen 0 value v at 2s", "woke at 12s"}, l.entries,
			"the stale timeout timer must not wake the later sleep")
	})
}

// badCaseSelect selects on a receive and a case of no known direction, and
// keeps what the select answered.
type badCaseSelect struct {
	Ch     channel.ID
	PC     int
	Chosen int
	Err    error
}

func (b *badCaseSelect) Step(t *tasklet.T) tasklet.Op {
	if b.PC == 1 {
		b.Chosen, b.Err = t.Chosen(), t.Err()
		return t.Exit()
	}
	b.PC = 1
	return t.Select(tasklet.RecvCase(b.Ch), tasklet.Case{Dir: 9})
}

// A case of no known direction fails the select at once: ignored, the
// select blocked, and its wait was saved in a record that no load accepts.
func TestSelectRefusesACaseOfNoDirection(t *testing.T) {
	s := scheduler.New()
	b := &badCaseSelect{Ch: s.NewChannel(0), Chosen: -2}
	s.Spawn(b)
	require.NoError(t, s.Run(t.Context()))
	assert.Equal(t, 1, b.Chosen, "the bad case is the one chosen")
	require.ErrorIs(t, b.Err, scheduler.ErrBadCase)
	assert.ErrorContains(t, b.Err, "case 1")
}
