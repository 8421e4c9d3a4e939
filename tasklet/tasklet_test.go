package tasklet_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/internal/core"
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

// rec is the record behind a *tasklet.T, as the scheduler keeps it.
type rec = core.Rec[tasklet.Behavior, tasklet.Host, tasklet.Case]

func newT(f stepFn) (*tasklet.T, *fakeHost) {
	h := &fakeHost{}
	return newTOn(f, h), h
}

func newTOn(f stepFn, h tasklet.Host) *tasklet.T {
	r := core.Make[tasklet.Behavior, tasklet.Host, tasklet.Case](7, f, &core.HostRef[tasklet.Host]{H: h})
	return (*tasklet.T)(r)
}

// step runs one step of tk the way the scheduler does.
func step(tk *tasklet.T) (tasklet.Op, error) {
	r := (*rec)(tk)
	r.BeginStep()
	op := r.Behavior().Step(tk)
	return op, r.EndStep()
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
	assert.Equal(t, []tasklet.Case{tasklet.RecvCase(1), tasklet.SendCase(2, "a")}, (*rec)(tk).SelectCases())
	tk.Select(tasklet.DefaultCase())
	assert.Equal(t, []tasklet.Case{tasklet.DefaultCase()}, (*rec)(tk).SelectCases(), "a new Select replaces the cases")
}

func TestFreshT(t *testing.T) {
	tk, _ := newT(nil)
	assert.Equal(t, tasklet.ID(7), tk.ID())
	assert.Equal(t, -1, tk.Chosen())
	assert.Zero(t, tk.Steps())
	assert.Nil(t, tk.Value())
	assert.NoError(t, tk.Err())
	assert.False(t, tk.Atomic())
	assert.False(t, tk.BlockTrap())
	assert.False(t, tk.SetAtomic(true))
	assert.True(t, tk.Atomic())
	assert.True(t, tk.SetAtomic(false))
	assert.False(t, tk.SetBlockTrap(true))
	assert.True(t, tk.BlockTrap())
}

func TestValueSeenDuringStep(t *testing.T) {
	var got any
	tk, _ := newT(func(tk *tasklet.T) tasklet.Op {
		got = tk.Value()
		return tk.Exit()
	})
	(*rec)(tk).Deliver(123, nil)
	_, _ = step(tk)
	assert.Equal(t, 123, got)
}

func TestHostCalls(t *testing.T) {
	tk, h := newT(nil)
	h2 := &fakeHost{now: time.Minute}
	(*rec)(tk).SetHost(&core.HostRef[tasklet.Host]{H: h2})
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
