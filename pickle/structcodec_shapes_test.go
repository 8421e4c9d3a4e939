package pickle

// Bytes that msgpack wrote for other versions of a struct, or written by
// hand, read the same through the plan as through msgpack, error for error.

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/stackless-go/stackless/internal/mpack"
)

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
