package pickle

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// The reference for every test of the struct codec (structcodec_*_test.go)
// is msgpack v5.3.6 itself: the plan must
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
