package pickle

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/internal/mpack"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/tasklet"
)

// The reference for every test here is msgpack v5.3.6 itself: the plan must
// write the bytes it writes and read any bytes into what it reads.

type scScalars struct {
	B   bool
	I   int
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
	S   string
	Bs  []byte
}

type (
	scString string
	scInt8   int8
	scUint16 uint16
	scBytes  []byte
	scNames  []string
	scByte   byte
)

type scNamed struct {
	Ch     channel.ID
	T      tasklet.ID
	D      time.Duration
	St     tasklet.State
	Name   scString
	Level  scInt8
	Raw    scBytes
	MyRaw  []scByte
	Flags  []scUint16
	Names  []scString
	Others scNames
	Key    [4]byte
	MyKey  [3]scByte
	Keys   [][2]byte
}

type scPoint struct {
	X, Y float32
}

type scLists struct {
	Ints   []int
	I8s    []int8
	U64s   []uint64
	F32s   []float32
	F64s   []float64
	Bools  []bool
	Strs   []string
	Grid   [3]int
	Pairs  [][2]int16
	Matrix [][]int32
	Words  [2]string
	Empty  [0]int
	At     scPoint
	Path   []scPoint
	Corner [2]scPoint
}

type scAllOmit struct {
	A int    `msgpack:",omitempty"`
	B string `msgpack:",omitempty"`
}

type scTagged struct {
	A      int `msgpack:"a"`
	Skip   int `msgpack:"-"`
	hidden int
	Opt    string    `msgpack:",omitempty"`
	OptN   int       `msgpack:"n,omitempty"`
	OptS   []int     `msgpack:",omitempty"`
	OptB   []byte    `msgpack:",omitempty"`
	OptSub scPoint   `msgpack:",omitempty"`
	OptAll scAllOmit `msgpack:",omitempty"`
	OptArr [0]int    `msgpack:",omitempty"`
	OptF   float64   `msgpack:",omitempty"`
	OptT   bool      `msgpack:",omitempty"`
	Spaced int       `msgpack:" spaced , omitempty"`
	Comma  int       `msgpack:"comma,"`
}

type ScBase struct {
	ID   tasklet.ID
	Tags []string
}

type ScLevel int16

type scEmbeds struct {
	ScBase
	ScLevel
	scPoint `msgpack:"-"`
	HP      int32
}

type scRenamedBase struct {
	ScBase `msgpack:"base"`
	X      int
}

type scWide struct { // more than 15 fields: a map16
	F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14, F15, F16 int
}

type scGuard struct { // pickle/bench_test.go's behavior
	HP    int
	Name  string
	Eyes  channel.ID
	Route []int
}

func (g *scGuard) Step(t *tasklet.T) tasklet.Op { return t.Recv(g.Eyes) }

// eligible are the types the plan must take, with values to encode.
var eligible = []any{scScalars{}, scNamed{}, scLists{}, scTagged{}, scEmbeds{}, scRenamedBase{}, scWide{}, scGuard{}, scAllOmit{}, scFramed{}, struct{}{}}

// scFrame is shaped like a callee frame of stackless gen: empty, for
// omitempty, when it is not active (PC 0), whatever else it holds.
type scFrame struct {
	PC int
	N  int
}

func (f scFrame) IsZero() bool { return f.PC == 0 }

type scFramed struct {
	A   int
	Sub scFrame    `msgpack:",omitempty"`
	All [2]scFrame `msgpack:",omitempty"`
}

func TestPlanEligibleTypes(t *testing.T) {
	for _, v := range eligible {
		sp, why := buildPlan(reflect.TypeOf(v))
		assert.NotNil(t, sp, "%T: %s", v, why)
	}
}

// TestPlanMatchesMsgpack: random values of every eligible type encode to
// msgpack's bytes, and the plan and msgpack read those bytes back alike.
func TestPlanMatchesMsgpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, proto := range eligible {
		typ := reflect.TypeOf(proto)
		sp := planFor(typ)
		require.NotNil(t, sp, "%v", typ)
		for i := range 300 {
			v := reflect.New(typ)
			randomize(v.Elem(), rng, i%50 == 0)
			assertSameCoding(t, sp, v)
		}
		assertSameCoding(t, sp, reflect.New(typ)) // the zero value
	}
}

func assertSameCoding(t *testing.T, sp *structPlan, v reflect.Value) {
	t.Helper()
	want, err := marshalCompact(v.Interface())
	require.NoError(t, err)
	got := sp.append(nil, v.UnsafePointer())
	if !assert.Equal(t, want, got, "%v: the plan writes other bytes than msgpack for %+v", sp.typ, v.Elem()) {
		return
	}
	byPlan, errPlan := planUnmarshal(sp, want)
	byMsgpack, errMsgpack := msgpackUnmarshal(sp.typ, want)
	require.NoError(t, errMsgpack)
	require.NoError(t, errPlan)
	assert.True(t, sameValue(byPlan, byMsgpack), "%v: read %+v, msgpack reads %+v", sp.typ, byPlan, byMsgpack)
	// What was read writes the same bytes again.
	again, err := marshalCompact(byMsgpack.Interface())
	require.NoError(t, err)
	assert.Equal(t, again, sp.append(nil, byPlan.UnsafePointer()))
}

// planUnmarshal decodes b, which must hold exactly one value, into a new
// value of sp's type.
func planUnmarshal(sp *structPlan, b []byte) (reflect.Value, error) {
	v := reflect.New(sp.typ)
	c := cursor{b: b}
	sp.decode(&c, v.UnsafePointer())
	if c.err == nil && c.off != len(b) {
		return v, errors.New("the plan left bytes unread")
	}
	return v, c.err
}

func msgpackUnmarshal(typ reflect.Type, b []byte) (reflect.Value, error) {
	v := reflect.New(typ)
	return v, msgpack.Unmarshal(b, v.Interface())
}

// TestPlanEdgeValues: limits of every integer width, special floats and
// lengths at each msgpack header boundary.
func TestPlanEdgeValues(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		v    any
	}{
		{"max", &scScalars{B: true, I: math.MaxInt, I8: math.MaxInt8, I16: math.MaxInt16, I32: math.MaxInt32, I64: math.MaxInt64,
			U: math.MaxUint, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64,
			F32: math.MaxFloat32, F64: math.MaxFloat64, S: long(31), Bs: []byte{}}},
		{"min", &scScalars{I: math.MinInt, I8: math.MinInt8, I16: math.MinInt16, I32: math.MinInt32, I64: math.MinInt64,
			F32: -math.SmallestNonzeroFloat32, F64: -math.SmallestNonzeroFloat64, S: long(32), Bs: make([]byte, 256)}},
		{"nan", &scScalars{F32: float32(math.NaN()), F64: math.NaN(), S: long(255), Bs: make([]byte, 255)}},
		{"signalling nan", &scScalars{F32: math.Float32frombits(0x7f800001), F64: math.Float64frombits(0x7ff0000000000001)}},
		{"inf", &scScalars{F32: float32(math.Inf(-1)), F64: math.Inf(1), S: long(256), Bs: make([]byte, 65535)}},
		{"negative zero", &scScalars{F32: float32(math.Copysign(0, -1)), F64: math.Copysign(0, -1), S: long(65535)}},
		{"str32 bin32", &scScalars{S: long(65536), Bs: make([]byte, 65536)}},
		{"boundaries", &scScalars{I: -32, I8: -33, I16: 128, I32: -129, I64: 1 << 32, U: 127, U8: 128, U16: 256, U32: 65536, U64: 1<<32 - 1}},
		{"array16", &scLists{Ints: make([]int, 16), Strs: make([]string, 65535), Path: make([]scPoint, 17)}},
		{"array32", &scLists{F64s: make([]float64, 65536)}},
		{"empty slices", &scLists{Ints: []int{}, Strs: []string{}, Pairs: [][2]int16{}, Matrix: [][]int32{nil, {}}}},
		{"omitted negative zero", &scTagged{OptF: math.Copysign(0, -1), OptS: []int{}, OptB: []byte{}}},
		{"kept nan", &scTagged{OptF: math.NaN(), OptAll: scAllOmit{B: "b"}}},
		{"wide", &scWide{F16: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := reflect.ValueOf(tc.v)
			sp := planFor(v.Elem().Type())
			require.NotNil(t, sp)
			assertSameCoding(t, sp, v)
		})
	}
}

type scV1 struct {
	ID    uint64
	Name  string
	HP    int
	Route []int
	Old   string
	Pos   scPoint
}

type scV2 struct { // V1 reordered, a field gone, one added, kinds widened
	Pos   scPoint
	Route []int64
	HP    float64
	Name  []byte
	ID    uint64
	New   bool
}

type scSmall struct {
	HP    int8
	Grid  [2]int
	Key   [2]byte
	Count uint16
}

type scAsArray struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint64
	Name     string
	HP       int
	Route    []int
	Old      string
	Pos      scPoint
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func fixmap(n int) []byte        { return []byte{0x80 | byte(n)} }
func str(s string) []byte        { return mpack.AppendStr(nil, s) }

var nil8 = []byte{0xc0}

type shapeCase struct {
	name string
	b    []byte
	into any
}

// otherShapes are bytes msgpack wrote for other versions of a struct, or
// written by hand, with the type to read them into.
func otherShapes(tb testing.TB) []shapeCase {
	sorted := func(v any) []byte { // deterministic bytes for maps
		var w appendWriter
		e := msgpack.NewEncoder(&w)
		e.SetSortMapKeys(true)
		require.NoError(tb, e.Encode(v))
		return w.b
	}
	v1 := scV1{ID: 7, Name: "old", HP: -5, Route: []int{1, -2, 300}, Old: "gone", Pos: scPoint{1.5, -2}}
	mustMarshal := func(v any) []byte { b, err := msgpack.Marshal(v); require.NoError(tb, err); return b }
	return []shapeCase{
		{"v1 into v2", mustMarshal(v1), scV2{}},
		{"v2 into v1", mustMarshal(scV2{HP: 2.5, Name: []byte("n"), New: true}), scV1{}},
		{"v1 as array into v1", mustMarshal(scAsArray{ID: 1, Name: "a", Route: []int{3}}), scV1{}},
		{"v1 as array into v2", mustMarshal(scAsArray{ID: 1}), scV2{}},
		{"empty array", []byte{0x90}, scV1{}},
		{"nil", []byte{0xc0}, scV1{}},
		{"nil fields", sorted(map[string]any{"ID": nil, "Name": nil, "HP": nil, "Route": nil, "Pos": nil}), scV1{}},
		{"nil into arrays", sorted(map[string]any{"Grid": nil, "Key": nil, "HP": nil}), scSmall{}},
		{"big ints truncate", sorted(map[string]any{"HP": 1000, "Count": -1, "Grid": []any{int64(math.MinInt64), uint64(math.MaxUint64)}}), scSmall{}},
		{"short arrays", sorted(map[string]any{"Grid": []int{9}, "Key": "k"}), scSmall{}},
		{"long array", sorted(map[string]any{"Grid": []int{1, 2, 3}}), scSmall{}},
		{"long byte array", sorted(map[string]any{"Key": []byte("abc")}), scSmall{}},
		{"string into byte array", sorted(map[string]any{"Key": "ab"}), scSmall{}},
		{"floats into ints", sorted(map[string]any{"HP": 1.0}), scSmall{}},
		{"float64 into float32", sorted(map[string]any{"Pos": map[string]any{"X": 1.5}}), scV1{}},
		{"float32 into float32", sorted(map[string]any{"Pos": map[string]any{"X": float32(1.5)}}), scV1{}},
		{"ints into floats", sorted(map[string]any{"Pos": map[string]any{"X": -3, "Y": uint64(math.MaxUint64)}}), scV1{}},
		{"ints into float64", sorted(map[string]any{"HP": int64(math.MaxInt64), "ID": -1}), scV2{}},
		{"string for an int", sorted(map[string]any{"HP": "1"}), scV1{}},
		{"int for a string", sorted(map[string]any{"Name": 1}), scV1{}},
		{"bin for a string", sorted(map[string]any{"Name": []byte("bin")}), scV1{}},
		{"bool for an int", sorted(map[string]any{"HP": true}), scV1{}},
		{"int for a bool", sorted(map[string]any{"New": 1}), scV2{}},
		{"map for a slice", sorted(map[string]any{"Route": map[string]any{}}), scV1{}},
		{"array for a struct", sorted(map[string]any{"Pos": []any{1, 2}}), scV1{}},
		{"short array for a struct", sorted(map[string]any{"Pos": []any{1}}), scV1{}},
		{"unknown keys of every type", sorted(map[string]any{"A": []any{1, "x", map[string]any{"y": nil}}, "B": time.Unix(1, 2), "C": 1.5, "HP": 3}), scV1{}},
		{"int key", []byte{0x81, 0x01, 0x02}, scV1{}},
		{"nil key", []byte{0x81, 0xc0, 0x02}, scV1{}},
		{"bin key", []byte{0x81, 0xc4, 0x02, 'H', 'P', 0x05}, scV1{}},
		{"repeated keys", []byte{0x83, 0xa5, 'R', 'o', 'u', 't', 'e', 0x92, 0x01, 0x02, 0xa2, 'H', 'P', 0x05, 0xa5, 'R', 'o', 'u', 't', 'e', 0x91, 0x07}, scV1{}},
		{"repeated key, nil", []byte{0x82, 0xa5, 'R', 'o', 'u', 't', 'e', 0x91, 0x01, 0xa5, 'R', 'o', 'u', 't', 'e', 0xc0}, scV1{}},
		{"repeated struct", []byte{0x82, 0xa3, 'P', 'o', 's', 0x81, 0xa1, 'X', 0x01, 0xa3, 'P', 'o', 's', 0x81, 0xa1, 'Y', 0x02}, scV1{}},
		{"repeated strings, then nil", cat(fixmap(2), str("Tags"), []byte{0x91, 0xa1, 'a'}, str("Tags"), nil8), scEmbeds{}},
		{"repeated structs, growing", cat(fixmap(2), str("Path"), []byte{0x91, 0x81, 0xa1, 'X', 0x01},
			str("Path"), []byte{0x92, 0x81, 0xa1, 'Y', 0x02, 0xc0}), scLists{}},
		{"repeated structs, shrinking and growing", cat(fixmap(3), str("Path"), []byte{0x93, 0x81, 0xa1, 'X', 0x01, 0x81, 0xa1, 'X', 0x02, 0x81, 0xa1, 'X', 0x03},
			str("Path"), []byte{0x91, 0xc0}, str("Path"), []byte{0x94, 0x81, 0xa1, 'Y', 0x04, 0x80, 0x80, 0x80}), scLists{}},
		{"repeated arrays, growing", cat(fixmap(2), str("Pairs"), []byte{0x91, 0x91, 0x01},
			str("Pairs"), []byte{0x93, 0x90, 0x92, 0x02, 0x03, 0xc0}), scLists{}},
		{"repeated byte arrays", cat(fixmap(2), str("Keys"), []byte{0x91, 0xa2, 'a', 'b'},
			str("Keys"), []byte{0x92, 0xa1, 'c', 0xc0}), scNamed{}},
		{"float32 signalling nan", cat(fixmap(1), str("Pos"), fixmap(2), str("X"), []byte{0xca, 0x7f, 0x80, 0x00, 0x01},
			str("Y"), []byte{0xca, 0xff, 0x80, 0x00, 0x02}), scV1{}},
		{"float32 into float64", cat(fixmap(1), str("HP"), []byte{0xca, 0x7f, 0x80, 0x00, 0x01}), scV2{}},
		{"float32 2.5 into float64", sorted(map[string]any{"HP": float32(2.5)}), scV2{}},
		{"int into float32, rounding once", sorted(map[string]any{"Pos": map[string]any{"X": int64(1<<62 + 1<<38 + 1)}}), scV1{}},
		{"not a map", []byte{0xa1, 'x'}, scV1{}},
		{"ext", []byte{0xd4, 0x01, 0x00}, scV1{}},
		{"embedded by name", sorted(map[string]any{"ScBase": map[string]any{"ID": 4}, "HP": 1}), scEmbeds{}},
		{"embedded by its tag name", sorted(map[string]any{"base": map[string]any{"ID": 4}, "ScBase": map[string]any{"ID": 5}}), scRenamedBase{}},
		{"embedded nil", sorted(map[string]any{"ScBase": nil, "ID": 5}), scEmbeds{}},
		{"repeated strings, nil", sorted(map[string]any{"Tags": []string{"a"}, "ScBase": map[string]any{"Tags": nil}}), scEmbeds{}},
		{"embedded scalar", sorted(map[string]any{"ScLevel": 3, "scPoint": map[string]any{"X": 1}}), scEmbeds{}},
		{"named slices, nil", sorted(map[string]any{"Others": nil, "Names": nil, "Raw": nil, "MyRaw": []byte{}}), scNamed{}},
		{"strings for bytes", sorted(map[string]any{"Raw": "s", "MyRaw": "t", "Keys": []any{"ab", nil, []byte("c")}}), scNamed{}},
		{"array of structs, short", sorted(map[string]any{"Corner": []any{map[string]any{"X": 1}}}), scLists{}},
		{"array of structs, nil element", sorted(map[string]any{"Path": []any{nil, map[string]any{"Y": 2}}}), scLists{}},
	}
}

// TestPlanReadsOtherShapes: otherShapes read the same through the plan as
// through msgpack, error for error.
func TestPlanReadsOtherShapes(t *testing.T) {
	for _, tc := range otherShapes(t) {
		t.Run(tc.name, func(t *testing.T) {
			typ := reflect.TypeOf(tc.into)
			sp := planFor(typ)
			require.NotNil(t, sp, "%v", typ)
			byMsgpack, errMsgpack := msgpackUnmarshal(typ, tc.b)
			byPlan, errPlan := planUnmarshal(sp, tc.b)
			require.Equal(t, errMsgpack == nil, errPlan == nil, "msgpack: %v; plan: %v", errMsgpack, errPlan)
			if errMsgpack == nil {
				assert.True(t, sameValue(byPlan, byMsgpack), "read %+v, msgpack reads %+v", byPlan.Elem(), byMsgpack.Elem())
			}
		})
	}
}

type scMarshaler struct{ N int }

func (m scMarshaler) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(m.N) }

type scTexter int

func (t *scTexter) UnmarshalText([]byte) error { return nil }

type scZeroer int

func (scZeroer) IsZero() bool { return true }

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

// randomize fills v with random values biased toward edges; big allows
// lengths past the one-byte headers.
func randomize(v reflect.Value, rng *rand.Rand, big bool) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(randomBits(rng)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(randomBits(rng))
	case reflect.Float32:
		f := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), math.MaxFloat32,
			math.SmallestNonzeroFloat32, math.Float32frombits(rng.Uint32()), float32(rng.NormFloat64())}
		v.SetFloat(float64(f[rng.IntN(len(f))]))
	case reflect.Float64:
		f := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), -math.MaxFloat64,
			math.SmallestNonzeroFloat64, math.Float64frombits(rng.Uint64()), rng.NormFloat64() * 1e6}
		v.SetFloat(f[rng.IntN(len(f))])
	case reflect.String:
		b := make([]byte, randomLen(rng, big))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		v.SetString(string(b))
	case reflect.Slice:
		if rng.IntN(5) == 0 {
			v.SetZero()
			return
		}
		n := randomLen(rng, big)
		v.Set(reflect.MakeSlice(v.Type(), n, n+rng.IntN(4)))
		fallthrough
	case reflect.Array:
		for i := range v.Len() {
			randomize(v.Index(i), rng, false)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomize(v.Field(i), rng, big)
			}
		}
	}
}

func randomBits(rng *rand.Rand) uint64 {
	if rng.IntN(2) == 0 { // near an edge of some width
		edges := []uint64{0, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<63 - 1}
		e := edges[rng.IntN(len(edges))]
		if rng.IntN(2) == 0 {
			return -e - uint64(rng.IntN(2))
		}
		return e
	}
	return rng.Uint64() >> rng.UintN(64)
}

func randomLen(rng *rand.Rand, big bool) int {
	if big && rng.IntN(3) == 0 {
		return 16 + rng.IntN(300)
	}
	return rng.IntN(6)
}

// sameValue is reflect.DeepEqual with floats compared by their bits (so NaN
// equals itself and 0 differs from -0).
func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		if a.Type().Size() == 4 { // a.Float() would quiet a signalling NaN
			return *(*uint32)(unsafe.Pointer(a.UnsafeAddr())) == *(*uint32)(unsafe.Pointer(b.UnsafeAddr()))
		}
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Pointer:
		return a.IsNil() == b.IsNil() && (a.IsNil() || sameValue(a.Elem(), b.Elem()))
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return false
		}
		fallthrough
	case reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(valueOf(a), valueOf(b))
}

// valueOf reads a scalar even from an unexported field.
func valueOf(v reflect.Value) any {
	if v.CanInterface() {
		return v.Interface()
	}
	if v.CanAddr() {
		return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().Interface()
	}
	return v.String()
}

type scEntity struct { // internal/testworld's Entity, which store.BenchmarkRestore restores
	In   channel.ID
	HP   int32
	Seen int32
	X, Y float32
}

var benchBehaviors = []struct {
	name string
	v    any
}{
	{"guard", &scGuard{HP: 100, Name: "north-gate", Eyes: 1<<48 | 42, Route: []int{3, 1, 4, 1}}},
	{"entity", &scEntity{In: 1<<48 | 7, HP: 100, X: 12, Y: 99}},
}

// BenchmarkBehaviorDecode: op = reading one behavior's msgpack bytes into a
// new struct, through its plan or through msgpack (as before plans).
func BenchmarkBehaviorDecode(b *testing.B) {
	for _, bb := range benchBehaviors {
		typ := reflect.TypeOf(bb.v).Elem()
		sp := planFor(typ)
		in, err := marshalCompact(bb.v)
		require.NoError(b, err)
		b.Run(bb.name+"/plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := planUnmarshal(sp, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/msgpack", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := msgpackUnmarshal(typ, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBehaviorEncode: op = appending one behavior's msgpack bytes to a
// reused buffer, through its plan or through msgpack.
func BenchmarkBehaviorEncode(b *testing.B) {
	for _, bb := range benchBehaviors {
		sp := planFor(reflect.TypeOf(bb.v).Elem())
		p := reflect.ValueOf(bb.v).UnsafePointer()
		b.Run(bb.name+"/plan", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = sp.append(buf[:0], p)
			}
		})
		b.Run(bb.name+"/msgpack", func(b *testing.B) {
			w := &appendWriter{b: make([]byte, 0, 256)}
			e := msgpack.NewEncoder(w)
			e.UseCompactInts(true)
			b.ReportAllocs()
			for b.Loop() {
				w.b = w.b[:0]
				if err := e.Encode(bb.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
