package pickle

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

func typeOf[T any]() reflect.Type      { return reflect.TypeFor[T]() }
func ptrOf[T any](v *T) unsafe.Pointer { return unsafe.Pointer(v) }

func stateOf(id tasklet.ID, b tasklet.Behavior) *scheduler.TaskletState {
	return &scheduler.TaskletState{ID: id, State: tasklet.Runnable, Behavior: b}
}

// scDeadBody stands for a generated frame's local: a struct worth leaving out.
type scDeadBody struct {
	HP   int
	Name string
}

// scDeadCallee is a callee frame: at PC 1 its copy of the body is dead.
type scDeadCallee struct {
	PC   int
	Body scDeadBody
	Path []int
}

func (f *scDeadCallee) DeadFields() uint64 {
	if f.PC == 1 {
		return 1 << 1 // Body
	}
	return 0
}

// scDeadFrame is a tasklet frame holding a callee by value: at PC 2 its own
// body and its counter are dead.
type scDeadFrame struct {
	PC     int
	Body   scDeadBody
	N      int
	Callee scDeadCallee `msgpack:",omitempty"`
}

func (f *scDeadFrame) DeadFields() uint64 {
	if f.PC == 2 {
		return 1<<1 | 1<<2 // Body, N
	}
	return 0
}

func (f *scDeadFrame) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

func TestDeadFieldsAreLeftOutOfASave(t *testing.T) {
	sp := planFor(typeOf[scDeadFrame]())
	require.NotNil(t, sp, "scDeadFrame should have a plan")
	body := scDeadBody{HP: 7, Name: "guard"}
	live := &scDeadFrame{PC: 2, Body: body, N: 9, Callee: scDeadCallee{PC: 1, Body: body, Path: []int{1, 2}}}
	b := sp.append(nil, ptrOf(live))

	var m map[string]any
	require.NoError(t, msgpack.Unmarshal(b, &m))
	assert.NotContains(t, m, "Body", "the frame's dead body is saved")
	assert.NotContains(t, m, "N", "the frame's dead counter is saved")
	callee, ok := m["Callee"].(map[string]any)
	require.True(t, ok, "the active callee frame is missing: %v", m)
	assert.NotContains(t, callee, "Body", "the callee's dead body is saved")
	assert.Contains(t, callee, "Path")

	// Read back, by the plan and by msgpack alike: the dead fields are
	// zero, the others as they were.
	want := scDeadFrame{PC: 2, Callee: scDeadCallee{PC: 1, Path: []int{1, 2}}}
	var byPlan scDeadFrame
	c := cursor{b: b}
	sp.decode(&c, ptrOf(&byPlan))
	require.NoError(t, c.err)
	assert.Equal(t, want, byPlan)
	var byMsgpack scDeadFrame
	require.NoError(t, msgpack.Unmarshal(b, &byMsgpack))
	assert.Equal(t, want, byMsgpack)

	// Where nothing is dead, everything is saved, byte for byte as msgpack
	// writes it.
	live.PC, live.Callee.PC = 1, 2
	b = sp.append(nil, ptrOf(live))
	mp, err := marshalCompact(live)
	require.NoError(t, err)
	assert.Equal(t, mp, b)
}

// A struct inside a plain one leaves its dead fields out too, and the
// count of its map agrees with the fields written (msgpack reads it).
func TestDeadFieldsOfANestedStruct(t *testing.T) {
	type holder struct {
		X int
		C scDeadCallee `msgpack:",omitempty"`
	}
	sp := planFor(typeOf[holder]())
	require.NotNil(t, sp)
	h := &holder{X: 1, C: scDeadCallee{PC: 1, Body: scDeadBody{HP: 3}}}
	var m map[string]any
	require.NoError(t, msgpack.Unmarshal(sp.append(nil, ptrOf(h)), &m))
	assert.Equal(t, map[string]any{"X": int8(1), "C": map[string]any{"PC": int8(1), "Path": nil}}, m)
}

// Through the registry: a tasklet record of a behavior with dead fields
// loads into the behavior without them.
func TestDeadFieldsThroughARecord(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register("test.framed", 1, (*scDeadFrame)(nil)))
	b := &scDeadFrame{PC: 2, Body: scDeadBody{HP: 7, Name: "x"}, N: 3}
	small, err := r.DumpTasklet(stateOf(1, b))
	require.NoError(t, err)
	b.PC = 0
	whole, err := r.DumpTasklet(stateOf(1, b))
	require.NoError(t, err)
	assert.Less(t, len(small), len(whole)-len("Body")-len("Name"), "the dead fields took room in the record")
	rec, err := r.LoadTasklet(small)
	require.NoError(t, err)
	assert.Equal(t, &scDeadFrame{PC: 2}, rec.Behavior)
}
