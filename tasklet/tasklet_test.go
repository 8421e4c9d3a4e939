package tasklet_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/tasklet"
)

func TestStateStrings(t *testing.T) {
	tests := []struct {
		state tasklet.State
		name  string
		alive bool
	}{
		{tasklet.New, "new", true},
		{tasklet.Runnable, "runnable", true},
		{tasklet.Blocked, "blocked", true},
		{tasklet.Sleeping, "sleeping", true},
		{tasklet.Paused, "paused", true},
		{tasklet.Dead, "dead", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.name, tc.state.String())
			got, err := tasklet.ParseState(tc.name)
			require.NoError(t, err)
			assert.Equal(t, tc.state, got)
			assert.Equal(t, tc.alive, tc.state.Alive())
		})
	}
	assert.Equal(t, "state(42)", tasklet.State(42).String())
	_, err := tasklet.ParseState("zombie")
	assert.ErrorContains(t, err, `"zombie"`)
	_, err = tasklet.ParseState("Runnable")
	assert.Error(t, err, "names are case-sensitive")
}

func TestIDs(t *testing.T) {
	tests := []struct {
		id   uint64
		node uint16
		str  string
	}{
		{0, 0, "0"},
		{1, 0, "1"},
		{1<<tasklet.NodeBits | 5, 1, "281474976710661"},
		{0xffff<<tasklet.NodeBits | (1<<tasklet.NodeBits - 1), 0xffff, "18446744073709551615"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.node, tasklet.ID(tc.id).Node())
		assert.Equal(t, tc.node, tasklet.ChanID(tc.id).Node())
		assert.Equal(t, "t"+tc.str, tasklet.ID(tc.id).String())
		assert.Equal(t, "ch"+tc.str, tasklet.ChanID(tc.id).String())
	}
}

func TestKindStrings(t *testing.T) {
	want := []string{"continue", "yield", "recv", "send", "senderr", "select", "sleep", "pause", "exit", "fail"}
	for k, name := range want {
		assert.Equal(t, name, tasklet.Kind(k).String())
	}
	assert.Equal(t, "op?", tasklet.Kind(len(want)).String())
}

// fakeHost records what a step asks of its scheduler.
type fakeHost struct {
	spawned []tasklet.Behavior
	closed  []tasklet.ChanID
	now     time.Duration
}

func (h *fakeHost) Spawn(b tasklet.Behavior) tasklet.ID {
	h.spawned = append(h.spawned, b)
	return tasklet.ID(100 + len(h.spawned))
}
func (h *fakeHost) NewChannel(capacity int) tasklet.ChanID { return tasklet.ChanID(200 + capacity) }
func (h *fakeHost) Close(ch tasklet.ChanID) error {
	h.closed = append(h.closed, ch)
	return nil
}
func (h *fakeHost) Balance(ch tasklet.ChanID) int       { return int(ch) }
func (h *fakeHost) Kill(tasklet.ID, bool) error         { return nil }
func (h *fakeHost) Throw(tasklet.ID, error, bool) error { return nil }
func (h *fakeHost) Insert(tasklet.ID) error             { return nil }
func (h *fakeHost) Now() time.Duration                  { return h.now }

// stepFn is a behavior made of a function.
type stepFn func(t *tasklet.T) tasklet.Op

func (f stepFn) Step(t *tasklet.T) tasklet.Op { return f(t) }

func newT(f stepFn) (*tasklet.T, *fakeHost) {
	h := &fakeHost{}
	return tasklet.Make(7, f, tasklet.NewHost(h)), h
}

func TestOps(t *testing.T) {
	errX := errors.New("x")
	tk, _ := newT(nil)
	tests := []struct {
		name string
		op   tasklet.Op
		kind tasklet.Kind
		ch   tasklet.ChanID
		val  any
		err  error
		dur  time.Duration
	}{
		{"zero", tasklet.Op{}, tasklet.OpContinue, 0, nil, nil, 0},
		{"continue", tk.Continue(), tasklet.OpContinue, 0, nil, nil, 0},
		{"yield", tk.Yield(), tasklet.OpYield, 0, nil, nil, 0},
		{"recv", tk.Recv(3), tasklet.OpRecv, 3, nil, nil, 0},
		{"send", tk.Send(4, "v"), tasklet.OpSend, 4, "v", nil, 0},
		{"senderr", tk.SendErr(5, errX), tasklet.OpSendErr, 5, errX, errX, 0},
		{"select", tk.Select(tasklet.RecvCase(1)), tasklet.OpSelect, 0, nil, nil, 0},
		{"sleep", tk.Sleep(time.Second), tasklet.OpSleep, 0, nil, nil, time.Second},
		{"pause", tk.Pause(), tasklet.OpPause, 0, nil, nil, 0},
		{"exit", tk.Exit(), tasklet.OpExit, 0, nil, nil, 0},
		{"fail", tk.Fail(errX), tasklet.OpFail, 0, errX, errX, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.kind, tc.op.Kind())
			assert.Equal(t, tc.val, tc.op.Value())
			assert.Equal(t, tc.err, tc.op.Err())
			// Chan and Duration share a field: each means something only
			// for its own kinds.
			switch tc.kind {
			case tasklet.OpRecv, tasklet.OpSend, tasklet.OpSendErr:
				assert.Equal(t, tc.ch, tc.op.Chan())
			case tasklet.OpSleep:
				assert.Equal(t, tc.dur, tc.op.Duration())
			default:
				assert.Zero(t, tc.op.Chan())
				assert.Zero(t, tc.op.Duration())
			}
		})
	}
	assert.Nil(t, tk.Send(1, "not an error").Err(), "Err is nil when the value is not an error")
}

func TestCaseConstructors(t *testing.T) {
	assert.Equal(t, tasklet.Case{Dir: tasklet.DirRecv, Chan: 3}, tasklet.RecvCase(3))
	assert.Equal(t, tasklet.Case{Dir: tasklet.DirSend, Chan: 4, Value: 9}, tasklet.SendCase(4, 9))
	assert.Equal(t, tasklet.Case{Dir: tasklet.DirTimeout, Timeout: time.Minute}, tasklet.TimeoutCase(time.Minute))
	assert.Equal(t, tasklet.Case{Dir: tasklet.DirDefault}, tasklet.DefaultCase())
}

func TestSelectCasesAreCopied(t *testing.T) {
	tk, _ := newT(nil)
	cases := []tasklet.Case{tasklet.RecvCase(1), tasklet.SendCase(2, "a")}
	tk.Select(cases...)
	cases[0] = tasklet.RecvCase(99)
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(1), tasklet.SendCase(2, "a")}, tk.SelectCases())
	tk.Select(tasklet.DefaultCase())
	assert.Equal(t, []tasklet.Case{tasklet.DefaultCase()}, tk.SelectCases(), "a new Select replaces the cases")
}

func TestMake(t *testing.T) {
	b := stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	tk := tasklet.Make(42, b, tasklet.NewHost(&fakeHost{}))
	assert.Equal(t, tasklet.ID(42), tk.ID())
	assert.Equal(t, tasklet.New, tk.State())
	assert.Equal(t, -1, tk.Chosen())
	assert.Zero(t, tk.Steps())
	assert.Nil(t, tk.Value())
	assert.False(t, tk.Atomic())
	assert.False(t, tk.BlockTrap())
	assert.NotNil(t, tk.Behavior())
	assert.Nil(t, tk.Cases())
	assert.Nil(t, tk.SelectCases())
}

func TestStepErrorHandling(t *testing.T) {
	errX := errors.New("x")
	tests := []struct {
		name   string
		read   bool
		deliv  error
		unread error
	}{
		{"no error", false, nil, nil},
		{"read", true, errX, nil},
		{"ignored", false, errX, errX},
		{"kill ignored", false, tasklet.ErrKilled, tasklet.ErrKilled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen error
			tk, _ := newT(func(tk *tasklet.T) tasklet.Op {
				if tc.read {
					seen = tk.Err()
				}
				return tk.Yield()
			})
			tk.Deliver("v", tc.deliv)
			v, err := tk.Delivered()
			assert.Equal(t, "v", v)
			assert.Equal(t, tc.deliv, err)
			op, unread := tk.Step()
			assert.Equal(t, tasklet.OpYield, op.Kind())
			assert.Equal(t, tc.unread, unread)
			if tc.read {
				assert.Equal(t, tc.deliv, seen)
			}
			assert.Equal(t, uint64(1), tk.Steps())
			v, err = tk.Delivered()
			assert.Nil(t, v, "the delivery is cleared after the step")
			assert.NoError(t, err)
		})
	}
}

func TestErrReadMarkDoesNotLeak(t *testing.T) {
	// An Err read in one step must not count as handling an error delivered
	// for a later step.
	errX := errors.New("x")
	step := 0
	tk, _ := newT(func(tk *tasklet.T) tasklet.Op {
		step++
		if step == 1 {
			_ = tk.Err()
		}
		return tk.Yield()
	})
	_, unread := tk.Step()
	require.NoError(t, unread)
	tk.Deliver(nil, errX)
	_, unread = tk.Step()
	assert.Equal(t, errX, unread)
}

func TestValueSeenDuringStep(t *testing.T) {
	var got any
	tk, _ := newT(func(tk *tasklet.T) tasklet.Op {
		got = tk.Value()
		return tk.Exit()
	})
	tk.Deliver(123, nil)
	tk.Step()
	assert.Equal(t, 123, got)
}

func TestFlags(t *testing.T) {
	tk, _ := newT(nil)
	assert.False(t, tk.SetAtomic(true))
	assert.True(t, tk.Atomic())
	assert.True(t, tk.SetAtomic(true))
	assert.False(t, tk.SetBlockTrap(true))
	assert.True(t, tk.BlockTrap())
	f := tk.Flags()
	assert.True(t, tk.SetAtomic(false))
	assert.True(t, tk.SetBlockTrap(false))
	assert.False(t, tk.Atomic())
	assert.False(t, tk.BlockTrap())
	assert.Zero(t, tk.Flags())

	tk.SetFlags(f)
	assert.True(t, tk.Atomic())
	assert.True(t, tk.BlockTrap())
	tk.SetFlags(0xff)
	assert.Equal(t, f, tk.Flags(), "only the persistent flags are kept")
	assert.False(t, tk.Dirty(), "SetFlags does not touch the dirty mark")
}

func TestDirty(t *testing.T) {
	tk, _ := newT(nil)
	assert.False(t, tk.Dirty())
	assert.True(t, tk.SetDirty(), "was clean")
	assert.False(t, tk.SetDirty(), "was dirty")
	assert.True(t, tk.Dirty())
	tk.MarkClean()
	assert.False(t, tk.Dirty())
	assert.Zero(t, tk.Flags(), "the dirty mark is not persistent")
}

func TestWaits(t *testing.T) {
	tk, _ := newT(nil)
	tests := []struct {
		name  string
		set   func()
		cases []tasklet.Case
		plain bool
	}{
		{"recv", func() { tk.WaitOn(3, false) }, []tasklet.Case{tasklet.RecvCase(3)}, true},
		{"send", func() { tk.WaitOn(4, true) }, []tasklet.Case{{Dir: tasklet.DirSend, Chan: 4}}, true},
		{"select", func() {
			tk.Select(tasklet.RecvCase(1), tasklet.TimeoutCase(time.Second))
			tk.WaitSelect()
		}, []tasklet.Case{tasklet.RecvCase(1), tasklet.TimeoutCase(time.Second)}, false},
		{"restored plain", func() { tk.SetCases([]tasklet.Case{tasklet.RecvCase(5)}, true) }, []tasklet.Case{tasklet.RecvCase(5)}, true},
		{"restored one-case select", func() { tk.SetCases([]tasklet.Case{tasklet.RecvCase(6)}, false) }, []tasklet.Case{tasklet.RecvCase(6)}, false},
		{"restored select", func() {
			tk.SetCases([]tasklet.Case{tasklet.RecvCase(6), tasklet.SendCase(7, 1)}, false)
		}, []tasklet.Case{tasklet.RecvCase(6), tasklet.SendCase(7, 1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			assert.Equal(t, tc.cases, tk.Cases())
			assert.Equal(t, tc.plain, tk.Plain())
		})
	}

	fresh, _ := newT(nil)
	fresh.SetCases(nil, false)
	assert.Nil(t, fresh.Cases(), "restoring no cases allocates nothing")
}

func TestWaitSequence(t *testing.T) {
	tk, _ := newT(nil)
	assert.Zero(t, tk.WaitSeq())
	assert.Equal(t, uint32(1), tk.NextWait())
	assert.Equal(t, uint32(2), tk.NextWait())
	assert.Equal(t, uint32(2), tk.WaitSeq())
	tk.SetWaitSeq(40)
	assert.Equal(t, uint32(41), tk.NextWait())
}

func TestSchedulerSideSetters(t *testing.T) {
	tk, _ := newT(nil)
	tk.SetState(tasklet.Sleeping)
	assert.Equal(t, tasklet.Sleeping, tk.State())
	tk.SetChosen(2)
	assert.Equal(t, 2, tk.Chosen())
	tk.SetMark(9)
	assert.Equal(t, uint32(9), tk.Mark())
	tk.SetSteps(77)
	assert.Equal(t, uint64(77), tk.Steps())
	b := stepFn(func(t *tasklet.T) tasklet.Op { return t.Exit() })
	tk.SetBehavior(b)
	op, _ := tk.Step()
	assert.Equal(t, tasklet.OpExit, op.Kind())
	assert.Equal(t, uint64(78), tk.Steps())
}

func TestHostCalls(t *testing.T) {
	tk, h := newT(nil)
	h2 := &fakeHost{now: time.Minute}
	tk.SetHost(tasklet.NewHost(h2))
	child := stepFn(nil)
	assert.Equal(t, tasklet.ID(101), tk.Spawn(child))
	assert.Len(t, h2.spawned, 1)
	assert.Empty(t, h.spawned, "SetHost moved the tasklet to the other host")
	assert.Equal(t, tasklet.ChanID(203), tk.NewChannel(3))
	require.NoError(t, tk.Close(8))
	assert.Equal(t, []tasklet.ChanID{8}, h2.closed)
	assert.Equal(t, time.Minute, tk.Now())
	assert.Equal(t, 5, tk.Host().Balance(5), "Host reaches the scheduler's other calls")
	assert.Equal(t, time.Minute, tk.Host().Now())
}
