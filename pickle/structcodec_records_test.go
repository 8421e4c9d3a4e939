package pickle

// Which types get no plan (and why), and tasklet records of planned kinds.

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

type scMarshaler struct{ N int }

func (m scMarshaler) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(m.N) }

type scTexter int

func (t *scTexter) UnmarshalText([]byte) error { return nil }

type scExt struct{ N int } // a msgpack extension, by TestPlanFallsBack

type scCustomInt int // has its own msgpack codec, by TestPlanFallsBack

type scRecursive struct{ Kids []scRecursive }

type scLower struct{ N int }

// TestPlanFallsBack: every type the plan cannot match byte for byte is left
// to msgpack, with the reason.
func TestPlanFallsBack(t *testing.T) {
	msgpack.RegisterExtEncoder(77, scExt{}, func(*msgpack.Encoder, reflect.Value) ([]byte, error) { return []byte{1}, nil })
	msgpack.RegisterExtDecoder(77, scExt{}, func(*msgpack.Decoder, reflect.Value, int) error { return nil })
	msgpack.Register(scCustomInt(0),
		func(e *msgpack.Encoder, v reflect.Value) error { return e.EncodeString("custom") },
		func(d *msgpack.Decoder, v reflect.Value) error { _, err := d.DecodeString(); return err })
	cases := []struct {
		v   any
		why string
	}{
		{struct{ P *int }{}, "ptr"},
		{struct{ M map[string]int }{}, "map"},
		{struct{ A any }{}, "interface"},
		{struct{ E error }{}, "interface"},
		{struct{ T time.Time }{}, "implements"},
		{struct{ A netip.Addr }{}, "implements"},
		{struct{ M scMarshaler }{}, "implements"},
		{struct{ T scTexter }{}, "implements"},
		{struct{ T []scTexter }{}, "implements"},
		{struct{ C complex128 }{}, "complex128"},
		{struct{ U uintptr }{}, "uintptr"},
		{struct{ F func() }{}, "func"},
		{struct{ C chan int }{}, "chan"},
		{struct{ E scExt }{}, "msgpack writes"},
		{struct{ C []scCustomInt }{}, "msgpack writes"},
		{struct{ R scRecursive }{}, "contains itself"},
		{struct {
			A int `msgpack:",inline"`
		}{}, "tag"},
		{struct {
			A int `msgpack:"a,alias:b"`
		}{}, "tag"},
		{struct {
			S string `msgpack:",intern"`
		}{}, "tag"},
		{struct {
			A int `msgpack:"'a'"`
		}{}, "tag"},
		{scAsArray{}, "_msgpack"},
		{struct {
			A int `msgpack:"B"`
			B int
		}{}, "two fields"},
		{struct {
			ScBase
			ID int
		}{}, "two fields"},
		{struct{ *ScBase }{}, "embeds"},
		{struct{ scLower }{}, "embeds"},
		{time.Time{}, "implements"},
		{42, "not a struct"},
	}
	for _, tc := range cases {
		typ := reflect.TypeOf(tc.v)
		sp, why := buildPlan(typ)
		assert.Nil(t, sp, "%v", typ)
		assert.Contains(t, why, tc.why, "%v", typ)
		if typ.Kind() == reflect.Struct {
			assert.Nil(t, planFor(typ), "%v", typ)
		}
	}
}

type scMapGuard struct { // not plannable: msgpack encodes it
	HP   int
	Seen map[string]int
}

func (g *scMapGuard) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

type scValueGuard struct{ HP int } // a value kind: msgpack encodes it

func (g scValueGuard) Step(t *tasklet.T) tasklet.Op { return t.Exit() }

// TestTaskletRecordsThroughPlans: the tasklet record of a planned kind holds
// msgpack's bytes for the behavior and loads back the same; kinds without a
// plan go through msgpack as before.
func TestTaskletRecordsThroughPlans(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register("guard", 1, &scGuard{}))
	require.NoError(t, r.Register("mapguard", 1, &scMapGuard{}))
	require.NoError(t, r.Register("valueguard", 1, scValueGuard{}))
	cases := []struct {
		b       tasklet.Behavior
		planned bool
	}{
		{&scGuard{HP: 100, Name: "north-gate", Eyes: 1<<48 | 42, Route: []int{3, 1, 4, 1}}, true},
		{&scGuard{}, true},
		{&scMapGuard{HP: 3, Seen: map[string]int{"a": 1}}, false},
		{scValueGuard{HP: 4}, false},
	}
	for _, tc := range cases {
		k, err := r.KindOf(tc.b)
		require.NoError(t, err)
		assert.Equal(t, tc.planned, k.ptr && planFor(k.typ) != nil, "%s", k.Name)
		ts := &scheduler.TaskletState{ID: 9, Behavior: tc.b, State: tasklet.Blocked, Chosen: -1}
		rec, err := r.DumpTasklet(ts)
		require.NoError(t, err)
		own, err := marshalCompact(tc.b)
		require.NoError(t, err)
		assert.True(t, bytes.HasSuffix(rec, own), "%s: the record ends with msgpack's bytes of the behavior", k.Name)
		got, err := r.LoadTasklet(rec)
		require.NoError(t, err)
		assert.Equal(t, tc.b, got.Behavior)
		assert.Equal(t, ts.ID, got.ID)

		// Bytes after the behavior are still an error.
		_, err = r.LoadTasklet(append(bytes.Clone(rec), 0x01))
		assert.Error(t, err)
	}
}

// TestPlannedLoadErrors: a behavior the plan cannot read fails like
// msgpack's, as a corrupt record naming the kind.
func TestPlannedLoadErrors(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register("guard", 1, &scGuard{}))
	rec, err := r.DumpTasklet(&scheduler.TaskletState{ID: 9, Behavior: &scGuard{HP: 1}, Chosen: -1})
	require.NoError(t, err)
	own, err := marshalCompact(&scGuard{HP: 1})
	require.NoError(t, err)
	head := rec[:len(rec)-len(own)]
	for _, behavior := range [][]byte{
		{0x81, 0xa2, 'H', 'P', 0xa1, 'x'},      // a string for an int
		{0x81, 0xa4, 'N', 'a', 'm', 'e', 0x01}, // an int for a string
		{0x92, 0x01, 0x02},                     // an array of the wrong length
		{0xc3},                                 // not a struct
	} {
		_, err := r.LoadTasklet(append(bytes.Clone(head), behavior...))
		require.Error(t, err, "% x", behavior)
		assert.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), `kind "guard"`)
	}
}
