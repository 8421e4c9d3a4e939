package pickle_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type link struct {
	V    int
	Next *link
}

// linked is a hand-written behavior with pointers in its state.
type linked struct {
	Head   *link
	A, B   *link
	Self   *linked
	Tags   map[string]int
	Tags2  map[string]int
	Marks  [2]*struct{}
	Loose  pickle.Boxed[any]
	Cursor int
	Nodes  []link
	Steps  []int
	Tail   []int
	Cur    *link
	At     *int
}

func (l *linked) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func list(n int) *link {
	var head *link
	for i := range n {
		head = &link{V: i, Next: head}
	}
	return head
}

func refRegistry(t *testing.T) *pickle.Registry {
	t.Helper()
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("linked", 1, &linked{}))
	require.NoError(t, pickle.RegisterValue[link](r, "link"))
	require.NoError(t, pickle.RegisterValue[link](pickle.Default, "link")) // for Boxed
	return r
}

func dumpLinked(r *pickle.Registry, b *linked) ([]byte, error) {
	return r.DumpTasklet(&scheduler.TaskletState{ID: 7, Behavior: b, State: tasklet.Runnable, Chosen: -1})
}

func TestSharedStateIsRefusedNotSplit(t *testing.T) {
	r := refRegistry(t)
	n := &link{V: 1}
	m := map[string]int{"a": 1}
	tests := []struct {
		name string
		b    *linked
		want []string
	}{
		{"two pointers at one value", &linked{A: n, B: n},
			[]string{"tasklet t7 (kind linked)", "pickle_test.linked.A and pickle_test.linked.B point at one value", "two separate copies"}},
		{"a pointer into a list", &linked{Head: &link{Next: n}, A: n},
			[]string{"pickle_test.linked.Head.Next and pickle_test.linked.A point at one value"}},
		{"one map in two fields", &linked{Tags: m, Tags2: m},
			[]string{"pickle_test.linked.Tags and pickle_test.linked.Tags2 point at one value"}},
		{"a pointer to a field of the behavior", func() *linked { b := &linked{}; b.At = &b.Cursor; return b }(),
			[]string{"pickle_test.linked.At points into pickle_test.linked, which a restore would bring back as two separate copies"}},
		{"a pointer into a slice", func() *linked { b := &linked{Nodes: make([]link, 3)}; b.Cur = &b.Nodes[1]; return b }(),
			[]string{"pickle_test.linked.Cur points into pickle_test.linked.Nodes"}},
		{"a pointer into a slice of numbers", func() *linked { b := &linked{Steps: []int{1, 2, 3}}; b.At = &b.Steps[2]; return b }(),
			[]string{"pickle_test.linked.At points into pickle_test.linked.Steps"}},
		{"a boxed pointer shared with a field", &linked{A: n, Loose: pickle.Boxed[any]{V: n}},
			[]string{"pickle_test.linked.A and pickle_test.linked.Loose.V point at one value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dumpLinked(r, tc.b)
			require.ErrorIs(t, err, pickle.ErrShared)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// A cycle made msgpack recurse until the process died (fatal stack
// overflow, which no recover catches): a checkpoint killed its program.
func TestCyclesAreRefusedNotFatal(t *testing.T) {
	r := refRegistry(t)
	loop := &link{V: 1}
	loop.Next = &link{V: 2, Next: loop}
	self := &linked{}
	self.Self = self
	_, err := dumpLinked(r, &linked{Head: loop})
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "pickle_test.linked.Head.Next.Next points back at pickle_test.linked.Head, a cycle")
	_, err = dumpLinked(r, self)
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "pickle_test.linked.Self points back at pickle_test.linked, a cycle")

	// The same for a value sent on a channel, at the send (CheckValue) and
	// in a save.
	require.ErrorIs(t, r.CheckValue(loop), pickle.ErrShared)
	_, err = r.DumpChannel(&scheduler.ChannelState{ID: 1, Cap: 1, Buffer: []any{loop}})
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "pickle_test.link.Next.Next points back at pickle_test.link")
}

func TestStateThatDoesNotShareSaves(t *testing.T) {
	r := refRegistry(t)
	var zero struct{}
	b := &linked{Head: list(3), A: &link{V: 1}, B: &link{V: 1}, Tags: map[string]int{"a": 1}, Tags2: map[string]int{"a": 1},
		Marks: [2]*struct{}{&zero, &zero}, Loose: pickle.Boxed[any]{V: list(2)}, Steps: []int{1, 2, 3}, Nodes: make([]link, 2)}
	b.Tail = b.Steps[1:] // two slices over one array are saved as copies, a documented choice
	b.At = new(int)
	out, err := dumpLinked(r, b)
	require.NoError(t, err, "equal values in separate places, and zero-size values (which share an address), are not shared state")
	rec, err := r.LoadTasklet(out)
	require.NoError(t, err)
	got := rec.Behavior.(*linked)
	assert.Equal(t, b.Head, got.Head)
	assert.Equal(t, b.Tags2, got.Tags2)
	assert.Equal(t, 1, got.Loose.V.(*link).V)
	assert.Equal(t, []int{2, 3}, got.Tail)
}

// Every state the encoder takes loads back, in a tasklet record and in a
// world blob (the deepest envelope); one level more is refused where it is
// saved, not where it is loaded.
func TestEverySavedDepthLoads(t *testing.T) {
	r := refRegistry(t)
	n := 1
	for ; ; n++ {
		if _, err := dumpLinked(r, &linked{Head: list(n)}); err != nil {
			require.ErrorIs(t, err, pickle.ErrTooDeep)
			assert.ErrorContains(t, err, "more)") // a long path is cut short
			break
		}
		require.Less(t, n, 1000, "a list of any length saved")
	}
	n-- // the longest list a behavior saves with
	require.Greater(t, n, 30, "the limit leaves room for ordinary nesting")
	out, err := dumpLinked(r, &linked{Head: list(n)})
	require.NoError(t, err)
	_, err = r.LoadTasklet(out)
	require.NoError(t, err, "a tasklet record with the deepest state loads")

	v := 1
	for ; r.CheckValue(list(v)) == nil; v++ {
		require.Less(t, v, 1000, "a value of any depth accepted")
	}
	require.ErrorIs(t, r.CheckValue(list(v)), pickle.ErrTooDeep)
	v--
	w := &scheduler.World{NextTasklet: 8, NextChannel: 2, RunQueue: []tasklet.ID{7},
		Tasklets: []scheduler.TaskletState{{ID: 7, Behavior: &linked{Head: list(n), Loose: pickle.Boxed[any]{V: list(v - 2)}}, State: tasklet.Runnable, Chosen: -1}},
		Channels: []scheduler.ChannelState{{ID: 1, Cap: 1, Buffer: []any{list(v)}}}}
	blob, err := r.DumpWorld(w)
	require.NoError(t, err)
	back, err := r.LoadWorld(blob)
	require.NoError(t, err, "a world with the deepest behavior and value loads")
	assert.Equal(t, v-1, back.Channels[0].Buffer[0].(*link).V)

	_, err = r.DumpChannel(&scheduler.ChannelState{ID: 1, Cap: 1, Buffer: []any{list(v + 1)}})
	require.ErrorIs(t, err, pickle.ErrTooDeep)
	assert.False(t, errors.Is(err, pickle.ErrShared))
}

type boxedOnly struct {
	N   int
	Got pickle.Boxed[any]
}

func (b *boxedOnly) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// BenchmarkSaveShapes: what the walk before a save costs a behavior with
// pointers (linked) and one with a boxed scalar, as generated flows have.
func BenchmarkSaveShapes(b *testing.B) {
	r := pickle.NewRegistry()
	require.NoError(b, r.Register("linked", 1, &linked{}))
	require.NoError(b, r.Register("boxed", 1, &boxedOnly{}))
	for _, bc := range []struct {
		name string
		b    tasklet.Behavior
	}{
		{"pointers", &linked{Head: list(3), A: &link{V: 1}, Tags: map[string]int{"a": 1}, Steps: []int{1, 2, 3}}},
		{"boxed", &boxedOnly{N: 3, Got: pickle.Boxed[any]{V: 5}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ts := &scheduler.TaskletState{ID: 7, Behavior: bc.b, State: tasklet.Runnable, Chosen: -1}
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = r.AppendTasklet(buf[:0], ts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Tasklets that share a value (a squad's blackboard) would each get their
// own copy back: a save of both is refused, naming them.
func TestStateSharedByTwoTaskletsIsRefused(t *testing.T) {
	r := refRegistry(t)
	board := &link{V: 1}
	one := &linked{A: board}
	w := &scheduler.World{NextTasklet: 10, RunQueue: []tasklet.ID{7, 8, 9},
		Tasklets: []scheduler.TaskletState{
			{ID: 7, Behavior: one, State: tasklet.Runnable, Chosen: -1},
			{ID: 8, Behavior: &linked{A: &link{V: 1}}, State: tasklet.Runnable, Chosen: -1},
			{ID: 9, Behavior: &linked{Head: &link{Next: board}}, State: tasklet.Runnable, Chosen: -1},
		}}
	_, err := r.DumpWorld(w)
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "tasklet t9 (kind linked)")
	assert.ErrorContains(t, err, "pickle_test.linked.Head.Next is also held by tasklet t7")

	w.Tasklets[2].Behavior = one // one behavior spawned twice
	_, _, err = r.EncodeWorld(w)
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "pickle_test.linked is also held by tasklet t7")

	w.Tasklets[2].Behavior = &linked{Head: &link{V: 1}}
	blob, err := r.DumpWorld(w)
	require.NoError(t, err, "equal values, not shared ones")
	_, err = r.LoadWorld(blob)
	require.NoError(t, err)
	_, err = r.DumpTasklet(&w.Tasklets[0])
	require.NoError(t, err, "a tasklet saved alone shares nothing")
}

type withErrors struct {
	First, Last pickle.Boxed[error]
	Reason      pickle.Boxed[any]
	Where       *link
}

func (w *withErrors) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// Errors are saved by their message (and a registered sentinel by its
// identity): two fields holding one error share nothing a restore loses.
func TestOneErrorInTwoFieldsSaves(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("errs", 1, &withErrors{}))
	err := errors.New("lost sight")
	out, dumpErr := r.DumpTasklet(state(&withErrors{First: pickle.Boxed[error]{V: err}, Last: pickle.Boxed[error]{V: err}, Where: &link{}}))
	require.NoError(t, dumpErr)
	rec, loadErr := r.LoadTasklet(out)
	require.NoError(t, loadErr)
	assert.EqualError(t, rec.Behavior.(*withErrors).Last.V, "lost sight")
}

// A pointer to a slice's first element shares the slice's address: the
// error still names the pointer and the slice apart.
func TestAPointerToTheFirstElementIsNamed(t *testing.T) {
	r := refRegistry(t)
	b := &linked{Steps: []int{4, 5}}
	b.At = &b.Steps[0]
	_, err := dumpLinked(r, b)
	require.ErrorIs(t, err, pickle.ErrShared)
	assert.ErrorContains(t, err, "pickle_test.linked.At points into pickle_test.linked.Steps")
}
