package pickle_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stackless-go/stackless/pickle"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The behaviors below each hide state where a save would drop it, at some
// depth; registration must refuse them, naming the field by its path.

type exit struct{}

func (exit) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// Tally is the counter: its count lived in an unexported field and
// came back zero after a restore.
type Tally struct {
	exit
	Limit int
	count int
}

type Inner struct {
	Seen  int
	count int
}

type NestedByValue struct {
	exit
	Inner Inner
}

type NestedByPointer struct {
	exit
	Inner *Inner
}

type NestedInSlice struct {
	exit
	Items []Inner
}

type NestedInArray struct {
	exit
	Items [2]Inner
}

type NestedInMapValue struct {
	exit
	ByName map[string]*Inner
}

type NestedInMapKey struct {
	exit
	ByKey map[Inner]int
}

type WithFunc struct {
	exit
	OnHit func()
}

type WithChan struct {
	exit
	Wake chan int
}

type WithUnsafe struct {
	exit
	P unsafe.Pointer
}

type WithComplex struct {
	exit
	Z []complex128
}

type WithBadTag struct {
	exit
	N int `stackless:"skip"`
}

type WithBothTags struct {
	exit
	N int `msgpack:"n" stackless:"-"`
}

// Interfaces: msgpack saves what they hold without its type.
type WithAny struct {
	exit
	Last any
}

type WithError struct {
	exit
	Failed error
}

type WithBoard struct {
	exit
	Board map[string]any // an AI's blackboard
}

type WithStringer struct {
	exit
	Names []fmt.Stringer
}

type Remark struct{ About any }

// The same struct loose in one field and not in the next: the second is
// refused, though the first made the check see Remark already.
type WithNoteTwice struct {
	exit
	Loose Remark `stackless:",loose"`
	Plain Remark
}

type WithLooseHidden struct {
	exit
	last any `stackless:",loose"`
}

type hidden struct{ secret int }

type EmbedsHidden struct {
	hidden
	exit
}

func TestRegisterRefusesStateThatWouldNotBeSaved(t *testing.T) {
	for _, tc := range []struct {
		proto tasklet.Behavior
		path  string // the path the error names
		says  string
	}{
		{&Tally{}, "pickle_test.Tally.count", "unexported"},
		{&NestedByValue{}, "pickle_test.NestedByValue.Inner.count", "unexported"},
		{&NestedByPointer{}, "pickle_test.NestedByPointer.Inner.count", "unexported"},
		{&NestedInSlice{}, "pickle_test.NestedInSlice.Items[].count", "unexported"},
		{&NestedInArray{}, "pickle_test.NestedInArray.Items[].count", "unexported"},
		{&NestedInMapValue{}, "pickle_test.NestedInMapValue.ByName[].count", "unexported"},
		{&NestedInMapKey{}, "pickle_test.NestedInMapKey.ByKey[key].count", "unexported"},
		{NestedByValue{}, "pickle_test.NestedByValue.Inner.count", "unexported"},
		{&EmbedsHidden{}, "pickle_test.EmbedsHidden.hidden.secret", "unexported"},
		{&WithFunc{}, "pickle_test.WithFunc.OnHit", "func()"},
		{&WithChan{}, "pickle_test.WithChan.Wake", "chan int"},
		{&WithUnsafe{}, "pickle_test.WithUnsafe.P", "unsafe.Pointer"},
		{&WithComplex{}, "pickle_test.WithComplex.Z[]", "complex128"},
		{&WithBadTag{}, "pickle_test.WithBadTag.N", `stackless:"skip"`},
		{&WithBothTags{}, "pickle_test.WithBothTags.N", `msgpack:"n"`},
		{&WithAny{}, "pickle_test.WithAny.Last", "interface (interface {})"},
		{&WithError{}, "pickle_test.WithError.Failed", "pickle.Boxed[error]"},
		{&WithBoard{}, "pickle_test.WithBoard.Board[]", "an int as an int8"},
		{&WithStringer{}, "pickle_test.WithStringer.Names[]", "pickle.Boxed[fmt.Stringer]"},
		{&WithLooseHidden{}, "pickle_test.WithLooseHidden.last", "unexported"},
		{&WithNoteTwice{}, "pickle_test.WithNoteTwice.Plain.About", "interface"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := pickle.NewRegistry()
			err := r.Register("k", 1, tc.proto)
			require.Error(t, err)
			assert.ErrorIs(t, err, pickle.ErrUnsavedField)
			assert.Contains(t, err.Error(), tc.path+" ")
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), `"k"`, "the error names the kind")
			assert.Contains(t, err.Error(), "`stackless:\"-\"`", "the error says how to mark a field not saved")
			assert.Empty(t, r.Kinds(), "nothing was registered")
		})
	}
}

// Node links to itself; Stamp, Amount and the tagged fields are fine.
type Node struct {
	Next *Node
	Val  int
}

type Accepted struct {
	exit
	Head    *Node
	Stamp   time.Time           // encodes itself
	Amount  *big.Int            // encodes itself
	Any     any                 `stackless:",loose"`
	Board   map[string][]any    `msgpack:"board" stackless:",loose"`
	Last    pickle.Boxed[any]   // saved with its type
	Failed  pickle.Boxed[error] // a registered error keeps its identity
	cache   map[string]int      `stackless:"-"`
	OnHit   func()              `stackless:"-"`
	Scratch []int               `msgpack:"-"`
	Inner   struct {
		Seen int
		memo []byte `stackless:"-"`
	}
}

func TestRegisterAcceptsWhatIsSavedOrMarkedNotSaved(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("accepted", 1, &Accepted{}))
	require.NoError(t, pickle.RegisterValue[Node](r, "node"))
}

type Hit struct {
	Damage int
	from   string
}

func TestRegisterValueRefusesStateThatWouldNotBeSaved(t *testing.T) {
	r := pickle.NewRegistry()
	err := pickle.RegisterValue[Hit](r, "hit")
	require.ErrorIs(t, err, pickle.ErrUnsavedField)
	assert.Contains(t, err.Error(), "pickle_test.Hit.from ")
	assert.Contains(t, err.Error(), `"hit"`)
	_, err = r.AppendValue(nil, Hit{Damage: 1})
	assert.ErrorIs(t, err, pickle.ErrUnregistered, "the refused type is not registered")

	err = pickle.RegisterValue[Inner](r, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty name")
}

// Marked keeps part of its state out of snapshots on purpose. Its plain
// fields give it a struct plan; MarkedSlow's map sends it through msgpack.
type Marked struct {
	Count int
	Cache []int `stackless:"-"`
	memo  int   `stackless:"-"`
	Deep  struct {
		Kept int
		Temp string `stackless:"-"`
	}
}

func (m *Marked) Step(t *tasklet.T) tasklet.Op {
	m.Count++
	m.Cache, m.memo, m.Deep.Kept, m.Deep.Temp = append(m.Cache, m.Count), m.Count, m.Count*10, "temp"
	return t.Yield()
}

type MarkedSlow struct {
	Marked
	Names map[string]int
}

type Note struct {
	Text  string
	Cache []byte `stackless:"-"`
}

func TestFieldsTaggedNotSavedAreNotSaved(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto tasklet.Behavior
		inner func(tasklet.Behavior) *Marked
	}{
		{"struct plan", &Marked{}, func(b tasklet.Behavior) *Marked { return b.(*Marked) }},
		{"msgpack", &MarkedSlow{Names: map[string]int{"a": 1}}, func(b tasklet.Behavior) *Marked { return &b.(*MarkedSlow).Marked }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pickle.NewRegistry()
			require.NoError(t, r.Register("marked", 1, tc.proto))
			require.NoError(t, pickle.RegisterValue[Note](r, "note"))
			s := scheduler.New()
			id := s.Spawn(tc.proto)
			ch := s.NewChannel(1)
			s.PostLocal(ch, Note{Text: "hi", Cache: []byte("x")})
			_, err := s.RunBudget(context.Background(), 3, scheduler.Total|scheduler.Soft)
			require.NoError(t, err)

			b, err := r.DumpWorld(s.World())
			require.NoError(t, err)
			w, err := r.LoadWorld(b)
			require.NoError(t, err)
			s2, err := scheduler.Restore(w)
			require.NoError(t, err)

			m := tc.inner(s2.Behavior(id))
			assert.Equal(t, 3, m.Count)
			assert.Equal(t, 30, m.Deep.Kept)
			assert.Nil(t, m.Cache, "tagged exported fields are not saved")
			assert.Zero(t, m.memo, "tagged unexported fields are not saved")
			assert.Empty(t, m.Deep.Temp, "tagged nested fields are not saved")
			assert.Equal(t, 3, tc.inner(s.Behavior(id)).memo, "the original keeps its scratch")

			cs, err := s2.ChannelState(ch)
			require.NoError(t, err)
			require.Len(t, cs.Buffer, 1)
			assert.Equal(t, Note{Text: "hi"}, cs.Buffer[0], "values skip tagged fields too")
		})
	}
}

// What an interface field brings back after a save: a bare one is refused
// (TestRegisterRefusesStateThatWouldNotBeSaved); a loose one takes
// msgpack's generic types back, a boxed one its own type.
func TestInterfaceFieldsComeBackAsTheirTagsSay(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("accepted", 1, &Accepted{}))
	in := &Accepted{Any: 5, Board: map[string][]any{"seen": {"orc", 2}}, Last: pickle.Boxed[any]{V: 5}}
	b, err := r.DumpTasklet(&scheduler.TaskletState{ID: 1, State: tasklet.Runnable, Behavior: in})
	require.NoError(t, err)
	rec, err := r.LoadTasklet(b)
	require.NoError(t, err)
	out, ok := rec.Behavior.(*Accepted)
	require.True(t, ok)
	assert.Equal(t, int8(5), out.Any, "loose: msgpack's type")
	assert.Equal(t, []any{"orc", int8(2)}, out.Board["seen"], "loose, at any depth")
	assert.Equal(t, 5, out.Last.V, "boxed: its own type")
}

type stamped struct{ At time.Time }

func (s *stamped) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// A time.Time keeps its instant, not its zone: it comes back in the
// loading process's Local zone, as the package doc says.
func TestATimeComesBackAtItsInstantInTheLocalZone(t *testing.T) {
	r := pickle.NewRegistry()
	require.NoError(t, r.Register("stamped", 1, &stamped{}))
	at := time.Date(2026, 12, 6, 10, 0, 0, 5, time.FixedZone("CET", 3600))
	b, err := r.DumpTasklet(&scheduler.TaskletState{ID: 3, Behavior: &stamped{At: at}, State: tasklet.Runnable, Chosen: -1})
	require.NoError(t, err)
	rec, err := r.LoadTasklet(b)
	require.NoError(t, err)
	got := rec.Behavior.(*stamped).At
	assert.True(t, got.Equal(at), "the instant is kept: %v, want %v", got, at)
	assert.Equal(t, time.Local, got.Location(), "the zone is the loading process's")
	assert.Equal(t, at.In(time.Local).Hour(), got.Hour())
}
